"""Commands at the edge against a real Mosquitto: once per id (across restarts too), reboot
after its ack, board.power without a board, and commands kept for a box that was away."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from edge_agent.commands import RESTART_EXIT_CODE, reboot_handler
from protocol import topics
from protocol.codes import Code
from protocol.decode import decode_as
from protocol.messages import Command, CommandAck
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.edge_agent.helpers import EDGE, SCHOOL, Received, TcpRelay, edge_config
from tests.edge_agent.test_link import _wait_for as wait_for
from tests.edge_agent.test_link import collecting, running

CMD = topics.cmd(SCHOOL, EDGE)
ACK = topics.cmd_ack(SCHOOL, EDGE)


def acks_for(messages: list[Received], command: Command) -> list[Received]:
    """The acks answering ``command``, in arrival order."""
    return [m for m in messages if decode_as(CommandAck, m.payload).re == command.id]


async def test_a_command_is_carried_out_once_per_id(mosquitto: Mosquitto, tmp_path: Path) -> None:
    config = edge_config(mosquitto, tmp_path)
    command = Command(id=uuid.uuid4(), cmd="identify")
    calls: list[uuid.UUID] = []
    release = asyncio.Event()

    async def slow_identify(received: Command) -> tuple[Code, dict[str, Any]]:
        calls.append(received.id)
        await release.wait()
        return Code.CMD_OK, {"edge": EDGE, "call": len(calls)}

    async with collecting(mosquitto, ACK) as hub:
        async with running(config) as agent:
            agent.link.on_command("identify", slow_identify)
            # A copy arriving while the first is still being carried out waits for its ack.
            await hub.publish(CMD, command.to_json())
            await hub.publish(CMD, command.to_json())
            await wait_for(lambda: agent.link.commands.replayed == 1)
            release.set()
            await hub.wait(lambda ms: len(acks_for(ms, command)) == 2)
            # A copy arriving later (a redelivery) gets the stored ack.
            await hub.publish(CMD, command.to_json())
            await hub.wait(lambda ms: len(acks_for(ms, command)) == 3)
            assert calls == [command.id]
        # The log is on disk: a restarted agent answers the old id without running it.
        async with running(config) as agent:
            agent.link.on_command("identify", slow_identify)
            await hub.publish(CMD, command.to_json())
            await hub.wait(lambda ms: len(acks_for(ms, command)) == 4)
            assert calls == [command.id]
        payloads = {m.payload for m in acks_for(hub.messages, command)}
        assert len(payloads) == 1
        ack = decode_as(CommandAck, payloads.pop())
        assert ack.ok and ack.code is Code.CMD_OK and ack.data == {"edge": EDGE, "call": 1}


async def test_reboot_restarts_only_the_agent_once_the_broker_has_its_ack(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    relay = await TcpRelay(mosquitto.host, mosquitto.port).start()
    config = edge_config(mosquitto, tmp_path, url=relay.url, reboot_command=[])
    reboot = Command(id=uuid.uuid4(), cmd="reboot")
    try:
        async with collecting(mosquitto, ACK) as hub, running(config) as agent:
            restart = reboot_handler(config.reboot_command, agent.request_exit)

            async def reboot_with_pubacks_held(command: Command) -> Any:
                relay.hold()  # from here the broker's PUBACK for the ack cannot reach the box
                return await restart(command)

            agent.link.on_command("reboot", reboot_with_pubacks_held)
            await hub.publish(CMD, reboot.to_json())
            await hub.wait(lambda ms: bool(acks_for(ms, reboot)))
            # The broker has the ack and passed it on, but the box has not heard its PUBACK:
            # it must still be running.
            assert not agent.finished.is_set()
            relay.release()
            await asyncio.wait_for(agent.finished.wait(), 10)
            assert agent.exit_code == RESTART_EXIT_CODE
        ack = decode_as(CommandAck, acks_for(hub.messages, reboot)[0].payload)
        assert ack.ok and ack.data == {"action": "restart-agent"}
    finally:
        await relay.close()


async def test_reboot_runs_the_configured_command_after_its_ack(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    marker = tmp_path / "rebooted"
    script = f"open({str(marker)!r}, 'w').write('rebooted')"
    config = edge_config(mosquitto, tmp_path, reboot_command=[sys.executable, "-c", script])
    missing = edge_config(mosquitto, tmp_path / "other",
                          reboot_command=[str(tmp_path / "no-such-reboot")])
    reboot = Command(id=uuid.uuid4(), cmd="reboot")
    async with collecting(mosquitto, ACK) as hub:
        async with running(config) as agent:
            await hub.publish(CMD, reboot.to_json())
            await hub.wait(lambda ms: bool(acks_for(ms, reboot)))
            await wait_for(marker.exists)
            assert not agent.finished.is_set()
        ack = decode_as(CommandAck, acks_for(hub.messages, reboot)[0].payload)
        assert ack.ok and ack.data["action"].startswith(sys.executable)

        # A reboot command that is not there is said at once: after the ack nobody would hear.
        refused = Command(id=uuid.uuid4(), cmd="reboot")
        async with running(missing):
            await hub.publish(CMD, refused.to_json())
            await hub.wait(lambda ms: bool(acks_for(ms, refused)))
        ack = decode_as(CommandAck, acks_for(hub.messages, refused)[0].payload)
        assert not ack.ok and ack.code is Code.CMD_FAILED and "not found" in ack.data["error"]


async def test_board_power_without_a_board_is_unsupported(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    power = Command(id=uuid.uuid4(), cmd="board.power", args={"on": True})
    garbled = Command(id=uuid.uuid4(), cmd="board.power", args={"on": "yes"})
    async with collecting(mosquitto, ACK) as hub, running(edge_config(mosquitto, tmp_path)):
        await hub.publish(CMD, power.to_json())
        await hub.publish(CMD, garbled.to_json())
        await hub.wait(lambda ms: bool(acks_for(ms, power)) and bool(acks_for(ms, garbled)))
    ack = decode_as(CommandAck, acks_for(hub.messages, power)[0].payload)
    assert not ack.ok and ack.code is Code.CMD_UNSUPPORTED and ack.data["cmd"] == "board.power"
    bad = decode_as(CommandAck, acks_for(hub.messages, garbled)[0].payload)
    assert not bad.ok and bad.code is Code.ERROR_BAD_REQUEST


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_a_command_waits_for_a_box_that_was_away(
    mosquitto: Mosquitto, tmp_path: Path, protocol: str
) -> None:
    config = edge_config(mosquitto, tmp_path)
    config = config.model_copy(update={"mqtt": config.mqtt.model_copy(
        update={"protocol": protocol})})
    command = Command(id=uuid.uuid4(), cmd="identify")
    async with collecting(mosquitto, ACK) as hub:
        async with running(config):
            pass  # the broker now knows the box's session and its subscription
        await hub.publish(CMD, command.to_json())  # the box is away
        async with running(config) as agent:
            await hub.wait(lambda ms: bool(acks_for(ms, command)))
            assert agent.link.identify_requested.is_set()
    assert decode_as(CommandAck, acks_for(hub.messages, command)[0].payload).ok


async def test_a_command_cut_off_before_its_answer_is_delivered_again(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """The box acknowledges a command to the broker only once it has answered it."""
    relay = await TcpRelay(mosquitto.host, mosquitto.port).start()
    try:
        calls: list[str] = []
        release = asyncio.Event()

        async def slow(command: Command) -> tuple[Code, dict[str, Any]]:
            calls.append(str(command.id))
            await release.wait()
            return Code.CMD_OK, {"calls": len(calls)}

        command = Command(id=uuid.uuid4(), cmd="slow")
        async with collecting(mosquitto, ACK) as hub, running(
                edge_config(mosquitto, tmp_path, url=relay.url)) as agent:
            agent.link.on_command("slow", slow)
            await hub.publish(CMD, command.to_json())
            await wait_for(lambda: len(calls) == 1)
            relay.cut()  # the line drops while the command is being carried out
            # Back online, the broker delivers the unanswered command again.
            await wait_for(lambda: agent.link.connections == 2 and len(calls) == 2)
            release.set()
            await hub.wait(lambda ms: bool(acks_for(ms, command)), timeout=20)
            acks = [decode_as(CommandAck, m.payload) for m in acks_for(hub.messages, command)]
            assert [(a.ok, a.data) for a in acks] == [(True, {"calls": 2})]
    finally:
        await relay.close()
