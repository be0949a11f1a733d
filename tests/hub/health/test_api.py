"""The health API through a real hub (uvicorn, Mosquitto, SQLite): tokens and roles, edges and
devices from the live state, the inventory import, schools' rules validated field by field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.app import create_app
from hub.auth import Role
from hub.db.alerts import AlertRow
from hub.health.alerts import AlertTracker
from hub.health.rules import AlertRules, Condition, RuleName, Severity, condition_key
from hub.settings import load_settings
from protocol import DeviceHealth, Heartbeat, Telemetry, topics
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.hub.conftest import Peer, serve, wait_until
from tests.hub.health.conftest import EDGE, OTHER, ROOM, SCHOOL, birth

ROOT_EXAMPLE = "config/inventory.example.csv"
H = "/api/v1/health"


@pytest.fixture
def hub(mosquitto: Mosquitto, sqlite_url: str) -> Iterator[tuple[httpx.Client, FastAPI]]:
    """The roles and routes are the same on either database; PostgreSQL runs in
    test_mqtt_alerts.py."""
    app = create_app(load_settings(mqtt_url=mosquitto.url, db_url=sqlite_url,
                                   mqtt_client_id="hub-health", jwt_secret="k" * 40))
    with serve(app) as client:
        yield client, app


def bearer(app: FastAPI, role: Role, school: str | None = None) -> dict[str, str]:
    token = app.state.tokens.issue(f"{role.value}-{school or 'all'}", role, school=school)
    return {"Authorization": f"Bearer {token}"}


def _alert(app: FastAPI, school: str) -> int:
    """An open disk alert of ``school``, stored the way the monitor stores one."""
    condition = Condition(condition_key(RuleName.DISK_FULL, school, "hop-1"),
                          RuleName.DISK_FULL, Severity.CRITICAL, school, "hop-1", "", "", 97.0,
                          90.0, "Ổ đĩa hộp hop-1 đầy 97 %", "Disk of edge hop-1 97 % full")
    tracker = AlertTracker(app.state.engine)
    tracker.step({condition.key: condition}, datetime.now(UTC), lambda s: AlertRules(
        open_after_s=0))
    with Session(app.state.engine) as session:
        found = session.scalar(select(AlertRow.id).where(AlertRow.key == condition.key))
    assert found is not None
    return found


def test_every_route_wants_a_token_and_a_role_that_sees_the_school(
        hub: tuple[httpx.Client, FastAPI]) -> None:
    client, app = hub
    alert = _alert(app, SCHOOL)
    csv = {"file": ("inventory.csv", b"x", "text/csv")}
    routes: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"{H}/edges", {}), ("GET", f"{H}/edges/{SCHOOL}/{EDGE}", {}),
        ("GET", f"{H}/inventory", {}), ("POST", f"{H}/inventory/import", {"files": csv}),
        ("GET", f"{H}/alerts", {}), ("POST", f"{H}/alerts/{alert}/ack", {}),
        ("GET", f"{H}/schools/{SCHOOL}/rules", {}),
        ("PUT", f"{H}/schools/{SCHOOL}/rules", {"json": {}})]
    for method, path, extra in routes:
        missing = client.request(method, path, **extra)
        assert missing.status_code == 401, path
        assert missing.json()["detail"] == {"vi": "Thiếu mã truy cập", "en": "Missing bearer token"}
        bad = client.request(method, path, headers={"Authorization": "Bearer abc"}, **extra)
        assert bad.status_code == 401, path
        for role in (Role.PARENT, Role.CASHIER, Role.EDGE):
            assert client.request(method, path, headers=bearer(app, role, SCHOOL),
                                  **extra).status_code == 403, (path, role)
    # Staff read their school's health but change nothing.
    staff = bearer(app, Role.STAFF, SCHOOL)
    assert client.get(f"{H}/edges", headers=staff).status_code == 200
    assert client.get(f"{H}/alerts", headers=staff).json()["alerts"][0]["id"] == alert
    assert client.get(f"{H}/schools/{SCHOOL}/rules", headers=staff).status_code == 200
    assert client.post(f"{H}/alerts/{alert}/ack", headers=staff).status_code == 403
    assert client.put(f"{H}/schools/{SCHOOL}/rules", headers=staff, json={}).status_code == 403
    # Another school's technician: 403 on everything of this school; their lists are empty.
    other = bearer(app, Role.TECHNICIAN, OTHER)
    for method, path, extra in routes[1:2] + routes[5:]:
        answer = client.request(method, path, headers=other, **extra)
        assert answer.status_code == 403, path
        assert answer.json()["detail"] == {"vi": "Không có quyền", "en": "Forbidden"}
    for path in (f"{H}/edges", f"{H}/alerts", f"{H}/inventory"):
        assert client.get(path, headers=other, params={"school": SCHOOL}).status_code == 403
    assert client.get(f"{H}/alerts", headers=other).json() == {"alerts": []}
    # The school's own technician acknowledges; a technician without a school sees all.
    mine = bearer(app, Role.TECHNICIAN, SCHOOL)
    acked = client.post(f"{H}/alerts/{alert}/ack", headers=mine)
    assert acked.status_code == 200
    assert (acked.json()["state"], acked.json()["acked_by"]) == ("acked",
                                                                 f"technician-{SCHOOL}")
    _alert(app, OTHER)
    everyone = client.get(f"{H}/alerts", headers=bearer(app, Role.TECHNICIAN)).json()["alerts"]
    assert {a["school"] for a in everyone} == {SCHOOL, OTHER}
    only = client.get(f"{H}/alerts", headers=bearer(app, Role.ADMIN),
                      params={"school": OTHER, "state": "active"}).json()["alerts"]
    assert [(a["school"], a["state"]) for a in only] == [(OTHER, "open")]
    assert client.post(f"{H}/alerts/99999/ack", headers=mine).status_code == 404
    assert client.get(f"{H}/alerts", headers=mine, params={"state": "bogus"}).status_code == 422


def test_edges_devices_and_the_inventory(hub: tuple[httpx.Client, FastAPI],
                                         mosquitto: Mosquitto) -> None:
    client, app = hub
    now = datetime.now(UTC).replace(microsecond=0)
    with Peer(mosquitto).connect() as edge:
        edge.publish(topics.status(SCHOOL, EDGE), birth(now, fw="2.2.0").to_json(), retain=True)
        edge.publish(topics.status(OTHER, "cong-chinh"), birth(now, room="Cổng").to_json(),
                     retain=True)
        beat = Heartbeat(ts=now + timedelta(seconds=1), uptime_s=60.0, cpu_pct=21.0,
                         mem_pct=40.0, disk_pct=55.5, temp_c=61.0, outbox=3,
                         devices={"co2-1": DeviceHealth(ok=True, errors=1, last_ts=now),
                                  "pm-1": DeviceHealth(ok=False, errors=4)})
        edge.publish(topics.heartbeat(SCHOOL, EDGE), beat.to_json(), qos=0)
        edge.publish(topics.telemetry(SCHOOL, EDGE, "co2-1"), Telemetry(
            id="co2-1", ts=now, seq=1, values={"co2_ppm": 812.0, "temp_c": 29.5}).to_json())
    mine = bearer(app, Role.TECHNICIAN, SCHOOL)

    def edges(headers: dict[str, str], **params: str) -> list[dict]:
        answer = client.get(f"{H}/edges", headers=headers, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()["edges"]

    wait_until(lambda: [e["disk_pct"] for e in edges(mine)] == [55.5], what="heartbeat seen")
    wait_until(lambda: len(edges(bearer(app, Role.ADMIN))) == 2, what="both edges seen")
    [summary] = edges(mine)
    assert summary | {"since": None, "last_seen": None, "last_reading": None} == {
        "school": SCHOOL, "edge": EDGE, "state": "online", "since": None, "last_seen": None,
        "last_reading": None,
        "fw": "2.2.0", "uptime_s": 60.0, "cpu_pct": 21.0, "mem_pct": 40.0, "disk_pct": 55.5,
        "temp_c": 61.0, "outbox": 3, "outbox_refused": 0, "rooms": [ROOM], "devices_total": 3,
        "devices_failing": 1, "errors": 5, "alerts_open": 0}
    assert [e["edge"] for e in edges(mine, room="a101")] == [EDGE]
    assert edges(mine, room="B203") == [] and edges(mine, state="offline") == []
    assert [e["school"] for e in edges(bearer(app, Role.TECHNICIAN), school=OTHER)] == [OTHER]

    wait_until(lambda: client.get(f"{H}/edges/{SCHOOL}/{EDGE}", headers=mine).json().get(
        "devices", [{}])[0].get("values") == {"co2_ppm": 812.0, "temp_c": 29.5},
        what="the reading")
    detail = client.get(f"{H}/edges/{SCHOOL}/{EDGE}", headers=mine).json()
    assert detail["last_reading"] == now.isoformat()
    devices = {d["device"]: d for d in detail["devices"]}
    assert (devices["co2-1"]["kind"], devices["co2-1"]["errors"], devices["co2-1"]["ok"]) == (
        "co2", 1, True)
    assert (devices["pm-1"]["ok"], devices["pm-1"]["values"]) == (False, {})
    assert devices["door-1"]["reported"] is None
    assert client.get(f"{H}/edges/{SCHOOL}/khong-co", headers=mine).status_code == 404

    # The inventory: the example file, as a technician of the school uploads it.
    wait_until(lambda: any(e["fw"] == "2.2.0" for e in client.get(
        "/api/v1/devices", params={"school": SCHOOL}, headers=mine).json()["edges"]),
        what="registry")
    with open(ROOT_EXAMPLE, "rb") as handle:
        data = handle.read()
    report = client.post(f"{H}/inventory/import", headers=mine,
                         files={"file": ("inventory.example.csv", data, "text/csv")})
    assert report.status_code == 200, report.text
    assert (report.json()["created"], report.json()["rejected"]) == (8, 0)
    again = client.post(f"{H}/inventory/import", headers=mine,
                        files={"file": ("inventory.example.csv", data, "text/csv")}).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 8)
    refused = client.post(f"{H}/inventory/import", headers=bearer(app, Role.TECHNICIAN, OTHER),
                          files={"file": ("inventory.example.csv", data, "text/csv")}).json()
    assert refused["rejected"] == 8
    assert refused["rejections"][0]["en"] == f"Not allowed for school {SCHOOL}"
    broken = client.post(f"{H}/inventory/import", headers=mine,
                         files={"file": ("x.csv", "Tên,Tuổi\nAn,15\n".encode(), "text/csv")})
    assert broken.status_code == 422 and "asset_tag" in broken.json()["detail"]["en"]
    items = client.get(f"{H}/inventory", headers=mine).json()["items"]
    assert len(items) == 8
    detail = client.get(f"{H}/edges/{SCHOOL}/{EDGE}", headers=mine).json()
    box = next(i for i in detail["inventory"] if i["device"] == "")
    # The file says 2.0.1; the box said 2.2.0 in its birth.
    assert (box["asset_tag"], box["firmware"], box["warranty_until"]) == (
        "TS-LQD-0001", "2.2.0", "2028-08-15")
    assert client.get(f"{H}/inventory", headers=bearer(app, Role.TECHNICIAN, OTHER)).json() == {
        "items": []}


@pytest.mark.parametrize(("body", "field"), [
    ({"co2_ppm": 50}, "co2_ppm"),
    ({"co2_ppm": 1000, "co2_clear_margin_ppm": 1000}, "co2_clear_margin_ppm"),
    ({"co2": 1200}, "co2"),
    ({"disabled": ["disk"]}, "disabled.0"),
    ({"open_after_s": "soon"}, "open_after_s"),
    ({"webhook_url": "ftp://example.com/x"}, "webhook_url"),
])
def test_wrong_rules_get_a_422_naming_the_field(hub: tuple[httpx.Client, FastAPI], body: dict,
                                                field: str) -> None:
    client, app = hub
    answer = client.put(f"{H}/schools/{SCHOOL}/rules", json=body,
                        headers=bearer(app, Role.TECHNICIAN, SCHOOL))
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert detail["field"] == field
    assert field in detail["vi"] and field in detail["en"]
    assert detail["vi"] != detail["en"]
    assert client.get(f"{H}/schools/{SCHOOL}/rules", headers=bearer(
        app, Role.ADMIN)).json()["overrides"] == {}


def test_rules_are_stored_and_used_at_once(hub: tuple[httpx.Client, FastAPI]) -> None:
    client, app = hub
    admin = bearer(app, Role.ADMIN)
    fresh = client.get(f"{H}/schools/{SCHOOL}/rules", headers=admin).json()
    assert fresh["rules"]["co2_ppm"] == 1500 and fresh["rules"]["pm25_ugm3"] == 50
    assert fresh["overrides"] == {} and fresh["webhook_url"] == ""
    saved = client.put(f"{H}/schools/{SCHOOL}/rules", headers=bearer(app, Role.TECHNICIAN,
                                                                      SCHOOL),
                       json={"co2_ppm": 1200, "disabled": ["cpu_hot"],
                             "webhook_url": "https://chat.example.vn/hooks/thiet-bi"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["overrides"] == {"co2_ppm": 1200.0, "disabled": ["cpu_hot"]}
    assert app.state.health.rules_for(SCHOOL).co2_ppm == 1200
    assert app.state.health.rules_for(OTHER).co2_ppm == 1500
    stored = client.get(f"{H}/schools/{SCHOOL}/rules", headers=admin).json()
    assert stored["rules"]["co2_ppm"] == 1200 and stored["rules"]["disabled"] == ["cpu_hot"]
    assert stored["webhook_url"] == "https://chat.example.vn/hooks/thiet-bi"
    # The settings given replace the earlier ones; the webhook stays unless named.
    client.put(f"{H}/schools/{SCHOOL}/rules", headers=admin, json={"open_after_s": 30})
    stored = client.get(f"{H}/schools/{SCHOOL}/rules", headers=admin).json()
    assert stored["overrides"] == {"open_after_s": 30}
    assert stored["webhook_url"] == "https://chat.example.vn/hooks/thiet-bi"
