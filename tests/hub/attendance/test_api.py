"""The people and attendance API through a real uvicorn: tokens, roles, isolation, roster ETag."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from hub.app import create_app
from hub.auth import Role
from hub.db.engine import make_engine
from hub.settings import load_settings
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.hub.attendance.conftest import MAI_ANH, at, tap
from tests.hub.conftest import serve
from tests.hub.people.samples import SCHOOL, SCHOOL_NAME, STUDENTS_CSV, TIMETABLE_CSV

OTHER = "thpt-le-quy-don"


@pytest.fixture
def hub(mosquitto: Mosquitto, db_url: str) -> Iterator[tuple[httpx.Client, FastAPI]]:
    app = create_app(load_settings(mqtt_url=mosquitto.url, db_url=db_url,
                                   mqtt_client_id="hub-people", jwt_secret="x" * 40))
    with serve(app) as client:
        yield client, app


def bearer(app: FastAPI, role: Role, school: str | None = SCHOOL,
           students: list[int] | None = None) -> dict[str, str]:
    token = app.state.tokens.issue(f"{role}-1", role, school=school, students=students)
    return {"Authorization": f"Bearer {token}"}


def test_people_api_roles_isolation_and_imports(hub: tuple[httpx.Client, FastAPI],
                                                db_url: str) -> None:
    client, app = hub
    admin, staff = bearer(app, Role.ADMIN, None), bearer(app, Role.STAFF)
    other_staff = bearer(app, Role.STAFF, OTHER)
    students_url = f"/api/v1/schools/{SCHOOL}/students"
    assert client.get(students_url).status_code == 401
    assert client.get(students_url).json()["detail"]["vi"] == "Thiếu mã truy cập"

    school = {"id": SCHOOL, "name": SCHOOL_NAME, "area": "Quận 1", "late_grace_min": 5}
    assert client.post("/api/v1/schools", json=school, headers=staff).status_code == 403
    assert client.post("/api/v1/schools", json=school, headers=admin).status_code == 201
    again = client.post("/api/v1/schools", json=school, headers=admin)
    assert again.status_code == 409 and again.json()["detail"]["en"] == f"School {SCHOOL} exists"
    put = client.put(f"/api/v1/schools/{SCHOOL}", headers=admin,
                     json={"name": SCHOOL_NAME, "late_grace_min": 10, "duplicate_window_s": 120})
    assert put.json()["late_grace_min"] == 10 and put.json()["area"] == ""

    upload = f"/api/v1/schools/{SCHOOL}/import/students"
    files = {"file": ("hoc-sinh.csv", STUDENTS_CSV, "text/csv")}
    assert client.post(upload, files=files, headers=bearer(app, Role.CASHIER)).status_code == 403
    assert client.post(upload, files=files, headers=other_staff).status_code == 403
    report = client.post(upload, files=files, headers=staff).json()
    assert (report["created"], report["rejected"]) == (4, 4)
    assert report["rejections"][0] == {"row": 7, "column": "Họ và tên",
                                       "vi": "Thiếu giá trị bắt buộc",
                                       "en": "Required value missing"}
    bomb = client.post(upload, files={"file": ("x.xlsx", b"not a zip", "application/zip")},
                       headers=staff)
    assert bomb.status_code == 422 and bomb.json()["detail"]["en"] == "Not a valid XLSX file"
    client.post(f"/api/v1/schools/{SCHOOL}/import/timetable", headers=staff,
                files={"file": ("tkb.csv", TIMETABLE_CSV, "text/csv")}).raise_for_status()

    listed = client.get(students_url, params={"class": "10A1"}, headers=staff).json()
    assert [s["full_name"] for s in listed["students"]] == ["Nguyễn Thị Mai Anh", "Trần Quốc Bảo"]
    assert client.get(students_url, headers=other_staff).status_code == 403
    mai_anh = listed["students"][0]["id"]
    created = client.post(students_url, headers=staff, json={
        "code": "HS0010", "full_name": "Huỳnh Thanh Tâm", "class": "11C3"})
    assert created.status_code == 201 and created.json()["class"] == "11C3"

    parent = bearer(app, Role.PARENT, None, students=[mai_anh])
    own = client.get(f"{students_url}/HS0001", headers=parent)
    assert own.status_code == 200 and own.json()["full_name"] == "Nguyễn Thị Mai Anh"
    assert client.get(f"{students_url}/HS0002", headers=parent).status_code == 403
    assert client.get(f"{students_url}/HS0002/attendance", headers=parent,
                      params={"from": "2026-11-23", "to": "2026-11-23"}).status_code == 403
    cards = client.get(f"{students_url}/HS0001/cards", headers=parent).json()["cards"]
    assert [c["card"] for c in cards] == [MAI_ANH]

    # Attendance: Mai Anh taps at her door; closing period 1 marks the others absent.
    engine = make_engine(db_url)
    try:
        tap(engine, MAI_ANH, at("07:03"))
    finally:
        engine.dispose()
    close = client.post(f"/api/v1/schools/{SCHOOL}/attendance/close", headers=staff,
                        params={"date": "2026-11-23", "period": 1})
    assert close.json()["marked_absent"] == 4  # Bảo; Phúc, Hân and Tâm of 11C3
    day = client.get(f"/api/v1/schools/{SCHOOL}/classes/10A1/attendance", headers=staff,
                     params={"date": "2026-11-23"}).json()
    assert [(s["student"], s["periods"]) for s in day["students"]] == [
        ("HS0001", {"1": "present"}), ("HS0002", {"1": "absent"})]
    history = client.get(f"{students_url}/HS0001/attendance", headers=parent,
                         params={"from": "2026-11-01", "to": "2026-11-30"}).json()
    assert [(r["period"], r["status"]) for r in history["records"]] == [(None, "present"),
                                                                        (1, "present")]


def test_roster_etag_304_and_a_new_version_after_a_block(
        hub: tuple[httpx.Client, FastAPI]) -> None:
    client, app = hub
    admin, staff = bearer(app, Role.ADMIN, None), bearer(app, Role.STAFF)
    edge = bearer(app, Role.EDGE)
    client.put(f"/api/v1/schools/{SCHOOL}", headers=admin,
               json={"name": SCHOOL_NAME}).raise_for_status()
    client.post(f"/api/v1/schools/{SCHOOL}/import/students", headers=staff,
                files={"file": ("hs.csv", STUDENTS_CSV, "text/csv")}).raise_for_status()
    roster = client.get("/api/v1/edge/roster", params={"school": SCHOOL}, headers=edge)
    assert roster.status_code == 200
    body = roster.json()
    assert roster.headers["ETag"] == f'"{body["version"]}"'
    assert body["school"] == SCHOOL and body["cards"][MAI_ANH] == {
        "student": "HS0001", "name": "Nguyễn Thị Mai Anh", "class": "10A1", "photo_url": "",
        "status": "active"}
    assert len(body["cards"]) == 3
    assert client.get("/api/v1/edge/roster", params={"school": OTHER},
                      headers=edge).status_code == 403
    assert client.get("/api/v1/edge/roster", params={"school": SCHOOL},
                      headers=bearer(app, Role.PARENT, None, [1])).status_code == 403

    unchanged = client.get("/api/v1/edge/roster", params={"school": SCHOOL},
                           headers={**edge, "If-None-Match": roster.headers["ETag"]})
    assert unchanged.status_code == 304 and unchanged.content == b""

    blocked = client.post(f"/api/v1/schools/{SCHOOL}/cards/{MAI_ANH}/block", headers=staff,
                          json={"reason": "Mất thẻ ở căn tin", "status": "lost"})
    assert blocked.json()["status"] == "lost"
    fresh = client.get("/api/v1/edge/roster", params={"school": SCHOOL},
                       headers={**edge, "If-None-Match": roster.headers["ETag"]})
    assert fresh.status_code == 200 and fresh.json()["version"] != body["version"]
    assert fresh.json()["cards"][MAI_ANH]["status"] == "lost"

    replaced = client.post(f"/api/v1/schools/{SCHOOL}/cards/{MAI_ANH}/replace", headers=staff,
                           json={"new_card": "0f00a1b2e7"})
    assert replaced.json()["new"]["card"] == "em:0F00A1B2E7"
    assert client.post(f"/api/v1/schools/{SCHOOL}/cards/{MAI_ANH}/unblock",
                       headers=staff).status_code == 409
    last = client.get("/api/v1/edge/roster", params={"school": SCHOOL}, headers=edge).json()
    assert last["cards"][MAI_ANH]["status"] == "replaced"
    assert last["cards"]["em:0F00A1B2E7"]["student"] == "HS0001"
