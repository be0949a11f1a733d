"""Commands through the API to a real edge agent process and back, on SQLite and PostgreSQL:
acked and recorded with who sent them, late acks after a timeout, a reboot that restarts the
agent once, and the CLI."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime

from hub.auth import Role
from protocol import Command, topics
from tests.hub.commands.conftest import EDGE, SCHOOL, EdgeBox, HubUnderTest, cli
from tests.hub.conftest import wait_until


def test_identify_is_acked_and_the_record_says_who_sent_it_and_what_came_back(
    hub: HubUnderTest, edge_box: Callable[..., EdgeBox]
) -> None:
    edge_box().start(hub)
    technician = hub.bearer(Role.TECHNICIAN, "kt-tran-quoc-bao")
    sent = hub.send(technician, "identify", timeout_s=10)
    assert sent.status_code == 202, sent.text
    record = sent.json()
    assert record["state"] == "sent" and record["ok"] is None and record["acked_at"] is None
    assert record["sent_by"] == {"subject": "kt-tran-quoc-bao", "role": "technician"}
    assert (record["school"], record["edge"], record["cmd"], record["args"]) == (
        SCHOOL, EDGE, "identify", {})

    done = hub.wait_state(technician, record["id"], lambda state: state != "sent")
    assert done["state"] == "ok" and done["ok"] is True
    assert done["code"] == "cmd.ok" and done["msg"] == {"vi": "Đã thực hiện lệnh",
                                                        "en": "Command done"}
    assert done["data"] == {"edge": EDGE}
    assert done["sent_by"] == record["sent_by"]
    acked = datetime.fromisoformat(done["acked_at"])
    assert datetime.fromisoformat(done["sent_at"]) <= acked <= datetime.fromisoformat(
        done["deadline"])
    wait_until(lambda: hub.acks("on_time") == 1, 10, "the ack counted")  # counted after commit

    # The CLI posts, polls and prints the answer.
    token = hub.app.state.tokens.issue("admin-so-gd", Role.ADMIN)
    status, out = cli("command", "send", SCHOOL, EDGE, "sync", "--hub", str(hub.client.base_url),
                      "--token", token, "--timeout", "10")
    assert status == 0, out
    assert "cmd.ok" in out and "Đã thực hiện lệnh" in out and "admin-so-gd (admin)" in out
    status, out = cli("command", "send", SCHOOL, EDGE, "board.power", "--args", '{"on": true}',
                      "--hub", str(hub.client.base_url), "--token", token)
    assert status == 1 and "cmd.unsupported" in out, out
    status, out = cli("command", "send", SCHOOL, EDGE, "format-disk",
                      "--hub", str(hub.client.base_url), "--token", token)
    assert status == 2 and "unknown command 'format-disk'" in out, out

    history = hub.client.get(f"/api/v1/edges/{SCHOOL}/{EDGE}/commands",
                             headers=technician).json()["commands"]
    assert [c["cmd"] for c in history] == ["board.power", "sync", "identify"]
    assert history[-1] == done


def test_a_command_to_an_edge_that_is_down_times_out_and_its_late_ack_is_kept(
    hub: HubUnderTest, edge_box: Callable[..., EdgeBox]
) -> None:
    box = edge_box().start(hub)
    assert box.stop() == 0
    technician = hub.bearer(Role.TECHNICIAN, "kt-le-minh")
    sent = hub.send(technician, "identify", timeout_s=1)
    assert sent.status_code == 202, sent.text
    command_id = sent.json()["id"]

    timed_out = hub.wait_state(technician, command_id, lambda state: state != "sent",
                               what="the deadline to pass")
    assert timed_out["state"] == "timeout" and timed_out["ok"] is False
    assert timed_out["code"] == "cmd.timeout" and timed_out["acked_at"] is None
    assert timed_out["msg"]["en"] == "Command timed out"

    # The broker kept the command in the box's session: the box answers when it is back.
    box.start(hub)
    late = hub.wait_state(technician, command_id, lambda state: state != "timeout",
                          what="the late ack")
    assert late["state"] == "late_ok" and late["ok"] is True
    assert late["code"] == "cmd.ok" and late["data"] == {"edge": EDGE}
    assert datetime.fromisoformat(late["acked_at"]) > datetime.fromisoformat(late["deadline"])
    wait_until(lambda: hub.acks("late") == 1, 10, "the late ack counted")


def test_reboot_restarts_the_agent_after_its_ack_and_a_redelivery_does_not_again(
    hub: HubUnderTest, edge_box: Callable[..., EdgeBox]
) -> None:
    box = edge_box(reboot_command=[]).start(hub)
    admin = hub.bearer(Role.ADMIN, "admin-so-gd", school=None)
    sent = hub.send(admin, "reboot", timeout_s=10)
    assert sent.status_code == 202, sent.text
    command_id = sent.json()["id"]
    # Exit status 75: systemd's Restart=on-failure starts the agent again.
    assert box.exit_status(20) == 75, box.child.log()[-3000:]
    done = hub.wait_state(admin, command_id, lambda state: state != "sent")
    assert done["state"] == "ok" and done["data"] == {"action": "restart-agent"}

    # Back up, the same command arrives again (as a redelivery would): same ack, no restart.
    box.start(hub)
    again = Command(id=uuid.UUID(command_id), cmd="reboot")
    hub.app.state.ingest.link.publish(topics.cmd(SCHOOL, EDGE), again.to_json(), 1, None)
    wait_until(lambda: hub.acks("duplicate") == 1, 20, "the stored ack again")
    assert hub.record(admin, command_id) == done
    # Still up and answering after the redelivery.
    identify = hub.send(admin, "identify").json()["id"]
    assert hub.wait_state(admin, identify, lambda state: state != "sent")["state"] == "ok"
    assert box.child.alive()
    log = box.child.log()
    assert log.count("reboot: restarting the agent") == 1
    assert "seen before: answered with its stored ack" in log


def test_a_reboot_for_a_box_that_is_away_expires_at_its_deadline(
    hub: HubUnderTest, edge_box: Callable[..., EdgeBox]
) -> None:
    """Unlike identify above, a reboot is not kept for the box: it must not restart hours later."""
    box = edge_box(reboot_command=[]).start(hub)
    assert box.stop() == 0
    admin = hub.bearer(Role.ADMIN, "admin-so-gd", school=None)
    reboot = hub.send(admin, "reboot", timeout_s=1).json()["id"]
    timed_out = hub.wait_state(admin, reboot, lambda state: state != "sent")
    assert timed_out["state"] == "timeout"
    # The broker drops it once its expiry (1 s) has passed in Mosquitto's whole seconds,
    # counted from receipt: by the clock, two seconds after it was sent.
    expired_at = datetime.fromisoformat(timed_out["sent_at"]).timestamp() + 2
    wait_until(lambda: time.time() >= expired_at, 10, "the broker-side expiry")
    box.start(hub)
    # The session delivers in order: had the reboot been kept, it would come before this.
    identify = hub.send(admin, "identify").json()["id"]
    assert hub.wait_state(admin, identify, lambda state: state != "sent")["state"] == "ok"
    assert hub.record(admin, reboot)["state"] == "timeout"
    assert box.child.alive()
    assert "reboot: restarting the agent" not in box.child.log()
