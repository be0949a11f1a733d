"""What the command API refuses, and acks that match no command of theirs: counted, logged,
never recorded. The edge here is a plain MQTT client (a birth and hand-made acks), so the test
controls exactly what the hub receives."""

from __future__ import annotations

import logging
import uuid

import pytest

from hub.auth import Role
from protocol import Code, CommandAck, EdgeState, Status, now, topics
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.hub.commands.conftest import EDGE, OTHER_SCHOOL, SCHOOL, HubUnderTest
from tests.hub.conftest import Peer, wait_until


def _register(hub: HubUnderTest, mosquitto: Mosquitto, edge: str = EDGE) -> None:
    """Make the registry know ``edge`` through a birth, as a real box does."""
    with Peer(mosquitto).connect() as box:
        box.publish(topics.status(SCHOOL, edge), Status(ts=now(), state=EdgeState.ONLINE).to_json())

    def known() -> bool:
        return any(e["edge"] == edge for e in hub.registry())

    wait_until(known, 15, f"{edge} in the registry")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_api_refuses_what_it_cannot_send(hub: HubUnderTest, mosquitto: Mosquitto) -> None:
    _register(hub, mosquitto)
    technician = hub.bearer(Role.TECHNICIAN, "kt-nguyen-thi-mai-anh")

    unknown = hub.send(technician, "format-disk")
    assert unknown.status_code == 422
    detail = unknown.json()["detail"]
    assert detail["field"] == "cmd" and "format-disk" in detail["en"]
    assert detail["vi"].startswith("Trường cmd")

    for args, field in [({"on": "yes"}, "args.on"), ({}, "args.on"),
                        ({"on": True, "brightness": 80}, "args.brightness")]:
        bad = hub.send(technician, "board.power", args=args)
        assert bad.status_code == 422, args
        assert bad.json()["detail"]["field"] == field, bad.json()
    assert hub.send(technician, "identify", args={"seconds": 5}).json()["detail"]["field"] == (
        "args.seconds")
    assert hub.send(technician, "identify", timeout_s=0).json()["detail"]["field"] == "timeout_s"
    assert hub.send(technician, "identify", timeout_s=10_000).status_code == 422

    assert hub.send(technician, "identify", edge="p-nowhere").status_code == 404
    assert hub.send({}, "identify").status_code == 401
    assert hub.send(hub.bearer(Role.STAFF, "gv-1"), "identify").status_code == 403
    other = hub.bearer(Role.TECHNICIAN, "kt-other", school=OTHER_SCHOOL)
    assert hub.send(other, "identify").status_code == 403

    # What was sent is visible to its school's technicians and to admins only.
    sent = hub.send(technician, "board.power", args={"on": True}, timeout_s=30)
    assert sent.status_code == 202, sent.text
    command_id = sent.json()["id"]
    assert sent.json()["args"] == {"on": True}
    assert hub.client.get(f"/api/v1/commands/{command_id}", headers=other).status_code == 403
    assert hub.client.get(f"/api/v1/edges/{SCHOOL}/{EDGE}/commands",
                          headers=other).status_code == 403
    every_school = hub.bearer(Role.TECHNICIAN, "kt-so-gd", school=None)
    assert hub.record(every_school, command_id)["state"] == "sent"
    assert hub.client.get(f"/api/v1/commands/{uuid.uuid4()}",
                          headers=technician).status_code == 404
    assert hub.client.get("/api/v1/commands/not-a-uuid", headers=technician).status_code == 422
    assert hub.client.get(f"/api/v1/edges/{SCHOOL}/p-nowhere/commands",
                          headers=technician).status_code == 404

    # Without the broker nothing can be sent: said at once, nothing recorded.
    before = len(hub.client.get(f"/api/v1/edges/{SCHOOL}/{EDGE}/commands",
                                headers=technician).json()["commands"])
    mosquitto.kill()
    wait_until(lambda: hub.client.get("/healthz").status_code == 503, 15, "the link down")
    down = hub.send(technician, "identify")
    assert down.status_code == 503 and down.json()["detail"]["en"].startswith("MQTT link is down")
    assert len(hub.client.get(f"/api/v1/edges/{SCHOOL}/{EDGE}/commands",
                              headers=technician).json()["commands"]) == before


def test_acks_matching_no_command_of_theirs_are_counted_and_change_nothing(
    hub: HubUnderTest, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    _register(hub, mosquitto)
    _register(hub, mosquitto, "p-12a1")
    admin = hub.bearer(Role.ADMIN, "admin-so-gd", school=None)
    command_id = hub.send(admin, "identify", timeout_s=60).json()["id"]
    stranger = CommandAck(re=uuid.uuid4(), ok=True, code=Code.CMD_OK)
    # Another box answering this box's command: never trusted.
    impostor = CommandAck(re=uuid.UUID(command_id), ok=True, code=Code.CMD_OK)
    mine = CommandAck(re=uuid.UUID(command_id), ok=False, code=Code.CMD_FAILED,
                      data={"error": "LED driver missing"})
    with caplog.at_level(logging.WARNING), \
            Peer(mosquitto).connect() as box:
        box.publish(topics.cmd_ack(SCHOOL, EDGE), stranger.to_json())
        box.publish(topics.cmd_ack(SCHOOL, "p-12a1"), impostor.to_json())
        wait_until(lambda: hub.acks("unknown") == 1 and hub.acks("mismatch") == 1, 15,
                   "the stray acks counted")
        assert hub.record(admin, command_id)["state"] == "sent"
        box.publish(topics.cmd_ack(SCHOOL, EDGE), mine.to_json())
        # The right box again, with another answer: the first ack decided.
        box.publish(topics.cmd_ack(SCHOOL, EDGE), impostor.to_json())
        wait_until(lambda: hub.acks("on_time") == 1 and hub.acks("duplicate") == 1, 15,
                   "the real ack recorded and its copy counted")
    record = hub.record(admin, command_id)
    assert record["state"] == "failed" and record["ok"] is False
    assert record["code"] == "cmd.failed" and record["data"] == {"error": "LED driver missing"}
    assert str(stranger.re) in caplog.text
