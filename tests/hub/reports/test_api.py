"""``GET /api/v1/reports/{quarter}.xlsx`` and ``.zip``: who may fetch what, and what comes back."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import Engine

from hub.app import create_app
from hub.auth import Role
from hub.settings import load_settings
from smartschool_cli.localservers.influxdb import InfluxDB1
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.hub.conftest import serve, wait_until
from tests.hub.reports.conftest import CU_CHI, LQD, NGUYEN_DU, QUARTER

SECRET = "bao-cao-quy-" + "x" * 32


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """The API's checks do not depend on the database: SQLite is enough here."""
    return sqlite_url


@pytest.fixture
def hub(mosquitto: Mosquitto, db_url: str, engine: Engine, co2_db: tuple[InfluxDB1, str]
        ) -> Iterator[tuple[httpx.Client, FastAPI]]:
    influx, db = co2_db
    app = create_app(load_settings(mqtt_url=mosquitto.url, db_url=db_url, influx_url=influx.url,
                                   influx_db=db, jwt_secret=SECRET, mqtt_client_id="hub-report"))
    with serve(app) as client:
        wait_until(lambda: client.get("/healthz").status_code == 200, what="hub healthy")
        yield client, app


def _auth(app: FastAPI, role: Role, school: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.state.tokens.issue('u', role, school=school)}"}


def test_report_downloads_and_who_may_have_them(hub: tuple[httpx.Client, FastAPI]) -> None:
    client, app = hub
    url = f"/api/v1/reports/{QUARTER}.xlsx"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    for role in (Role.PARENT, Role.CASHIER, Role.TECHNICIAN, Role.EDGE):
        assert client.get(url, headers=_auth(app, role, LQD)).status_code == 403, role
    staff = _auth(app, Role.STAFF, LQD)
    assert client.get(url, params={"school": CU_CHI}, headers=staff).status_code == 403
    assert client.get(url, headers=_auth(app, Role.STAFF)).status_code == 403  # no school
    admin = _auth(app, Role.ADMIN)
    assert client.get("/api/v1/reports/2026-Q5.xlsx", headers=admin).status_code == 422
    assert client.get(url, params={"school": "khong-co"}, headers=admin).status_code == 404

    # Admin: every school, with CO2 from the hub's InfluxDB.
    response = client.get(url, headers=admin)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="bao-cao_2026-Q3.xlsx"' in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    schools = [row[0] for row in book["Trường"].iter_rows(min_row=3, values_only=True)]
    assert schools == sorted([LQD, CU_CHI, NGUYEN_DU])
    rooms = [row[2] for row in book["Phòng CO2"].iter_rows(min_row=3, values_only=True)]
    assert sorted(rooms) == ["10A1", "6A1", "Căn tin"]

    # Staff: their own school only, even without asking for it.
    for params in ({}, {"school": LQD}):
        response = client.get(url, params=params, headers=staff)
        assert response.status_code == 200
        book = load_workbook(io.BytesIO(response.content))
        rows = list(book["Trường"].iter_rows(min_row=3, values_only=True))
        assert [row[0] for row in rows] == [LQD]
        assert [r[0] for r in book["Thiết bị"].iter_rows(min_row=3, values_only=True)] == [LQD] * 2
        assert {r[2] for r in book["Phòng CO2"].iter_rows(min_row=3, values_only=True)} == {
            "10A1", "Căn tin"}

    response = client.get(f"/api/v1/reports/{QUARTER}.zip", headers=staff)
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = sorted(archive.namelist())
        assert names == sorted(f"bao-cao_2026-Q3_{LQD}/{stem}.csv" for stem in (
            "tong-hop-quan-huyen_districts", "truong_schools", "thiet-bi_devices",
            "phong-co2_rooms-co2", "ghi-chu_notes"))
        raw = archive.read(f"bao-cao_2026-Q3_{LQD}/truong_schools.csv")
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    line = dict(zip(table[1], table[2], strict=True))
    assert (line["School"], line["Net cashless volume (đồng)"]) == ("THPT Lê Quý Đôn", "35000")
    assert client.get(f"/api/v1/reports/{QUARTER}.zip", params={"school": CU_CHI},
                      headers=staff).status_code == 403
