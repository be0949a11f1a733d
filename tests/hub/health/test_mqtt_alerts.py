"""End to end through Mosquitto and the hub app, on SQLite and PostgreSQL: a heartbeat with a
full disk opens an alert (on the wall's count, in the API, at the webhook); a technician
acknowledges it; a later heartbeat with room to spare resolves it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.app import create_app
from hub.auth import Role
from hub.settings import load_settings
from protocol import DeviceHealth, Heartbeat, topics
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.hub.conftest import Peer, serve, wait_until
from tests.hub.health.conftest import EDGE, OTHER, SCHOOL, Receiver, birth

H = "/api/v1/health"


def heartbeat(ts: datetime, disk: float) -> bytes:
    return Heartbeat(ts=ts, uptime_s=120.0, cpu_pct=15.0, mem_pct=30.0, disk_pct=disk,
                     temp_c=52.0, outbox=0, devices={
                         "co2-1": DeviceHealth(ok=True, last_ts=ts),
                         "pm-1": DeviceHealth(ok=True, last_ts=ts),
                         "door-1": DeviceHealth(ok=True)}).to_json()


def test_a_full_disk_opens_an_alert_and_room_to_spare_resolves_it(
        mosquitto: Mosquitto, db_url: str, receiver: Receiver) -> None:
    settings = load_settings(mqtt_url=mosquitto.url, db_url=db_url, mqtt_client_id="hub-disk",
                             jwt_secret="k" * 40)
    app = create_app(settings)
    with serve(app) as client:
        tokens = app.state.tokens
        tech = {"Authorization": "Bearer " + tokens.issue("kt-vien-an", Role.TECHNICIAN,
                                                          school=SCHOOL)}
        rules = client.put(f"{H}/schools/{SCHOOL}/rules", headers=tech, json={
            "open_after_s": 0, "clear_after_s": 0,
            "webhook_url": f"http://127.0.0.1:{receiver.server_port}/hooks/thiet-bi"})
        assert rules.status_code == 200, rules.text

        def active() -> list[dict]:
            answer = client.get(f"{H}/alerts", headers=tech, params={"state": "active"})
            assert answer.status_code == 200
            return answer.json()["alerts"]

        def alerts_open() -> int | None:
            schools = app.state.live.changes(0)["schools"]
            return next((s["alerts_open"] for s in schools if s["school"] == SCHOOL), None)

        now = datetime.now(UTC)
        with Peer(mosquitto, client_id=EDGE).connect() as edge:
            edge.publish(topics.status(SCHOOL, EDGE), birth(now).to_json(), retain=True)
            edge.publish(topics.heartbeat(SCHOOL, EDGE), heartbeat(now, 95.0), qos=0)
            wait_until(lambda: [a["rule"] for a in active()] == ["disk_full"], 15,
                       "the disk alert")
            [alert] = active()
            assert (alert["edge"], alert["value"], alert["limit"], alert["severity"]) == (
                EDGE, 95.0, 90.0, "critical")
            assert alert["message"]["vi"] == f"Ổ đĩa hộp {EDGE} đầy 95 %"
            wait_until(lambda: alerts_open() == 1, 5, "the wall's count")
            summary = client.get(f"{H}/edges", headers=tech).json()["edges"][0]
            assert summary["alerts_open"] == 1

            other = {"Authorization": "Bearer " + tokens.issue("kt-khac", Role.TECHNICIAN,
                                                               school=OTHER)}
            assert client.post(f"{H}/alerts/{alert['id']}/ack",
                               headers=other).status_code == 403
            acked = client.post(f"{H}/alerts/{alert['id']}/ack", headers=tech).json()
            assert (acked["state"], acked["acked_by"]) == ("acked", "kt-vien-an")

            edge.publish(topics.heartbeat(SCHOOL, EDGE),
                         heartbeat(now + timedelta(seconds=30), 50.0), qos=0)
            wait_until(lambda: active() == [], 15, "the alert resolved")
            wait_until(lambda: alerts_open() == 0, 5, "the wall's count back to 0")
        resolved = client.get(f"{H}/alerts", headers=tech, params={"state": "resolved"})
        [done] = resolved.json()["alerts"]
        assert (done["id"], done["acked_by"]) == (alert["id"], "kt-vien-an")
        assert done["resolved_at"] is not None
        wait_until(lambda: len(receiver.bodies()) >= 3, 15, "three events at the webhook")
    assert [b["event"] for b in receiver.bodies()] == ["opened", "acked", "resolved"]
    assert {b["alert"]["id"] for b in receiver.bodies()} == {alert["id"]}
