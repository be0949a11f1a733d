"""The MQTT link against a real Mosquitto: birth, Last Will, in-order drain with nothing lost."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from edge_agent.app import EdgeAgent
from edge_agent.outbox import Kind
from edge_agent.settings import EdgeConfig
from protocol import topics
from protocol.codes import Code
from protocol.decode import decode_as
from protocol.messages import Command, CommandAck, Heartbeat, Status, Tap, Telemetry, now
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.edge_agent.helpers import EDGE, SCHOOL, Collector, Received, TcpRelay, edge_config

ROOT = Path(__file__).resolve().parents[2]
STATUS = topics.status(SCHOOL, EDGE)


@asynccontextmanager
async def running(config: EdgeConfig) -> AsyncIterator[EdgeAgent]:
    """An agent whose link is up."""
    async with EdgeAgent(config) as agent:
        await asyncio.wait_for(agent.link.connected.wait(), 10)
        yield agent


@asynccontextmanager
async def collecting(
    mosquitto: Mosquitto, *subscriptions: str, **kw: object
) -> AsyncIterator[Collector]:
    """A subscribed Collector, closed afterwards."""
    collector = Collector(mosquitto, subscriptions, **kw)  # type: ignore[arg-type]
    try:
        await collector.subscribed()
        yield collector
    finally:
        await asyncio.to_thread(collector.close)


def _state(message: Received) -> str:
    return decode_as(Status, message.payload).state.value


async def test_birth_is_retained_and_clean_stop_says_offline(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with running(edge_config(mosquitto, tmp_path)):
        # Subscribing after the birth: only a retained message can reach us.
        async with collecting(mosquitto, STATUS) as late:
            await late.wait(lambda ms: len(ms) >= 1)
            birth = late.on(STATUS)[0]
            assert birth.retain
            status = decode_as(Status, birth.payload)
            assert status.state.value == "online" and status.fw == "9.9.9-test"
            assert status.devices == ()
    # The agent has stopped: a clean stop publishes offline itself (no Will on a clean DISCONNECT).
    async with collecting(mosquitto, STATUS) as after:
        await after.wait(lambda ms: any(_state(m) == "offline" for m in ms))
        assert after.on(STATUS)[-1].retain


def _start_edge_process(mosquitto: Mosquitto, tmp_path: Path) -> subprocess.Popen[bytes]:
    config_path = tmp_path / "edge.toml"
    config_path.write_text(
        f'school = "{SCHOOL}"\nedge = "{EDGE}"\n[mqtt]\nurl = "{mosquitto.url}"\n'
        f'[outbox]\npath = "{tmp_path}/outbox.sqlite"\n'
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SS_MQTT_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "edge_agent", str(config_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def test_last_will_says_offline_when_the_process_dies(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    proc = _start_edge_process(mosquitto, tmp_path)
    try:
        async with collecting(mosquitto, STATUS) as watcher:
            await watcher.wait(lambda ms: any(_state(m) == "online" for m in ms), timeout=30)
            proc.kill()  # SIGKILL: no chance to say goodbye, the broker must send the Will
            await asyncio.to_thread(proc.wait, 10)
            await watcher.wait(lambda ms: _state(ms[-1]) == "offline")
        async with collecting(mosquitto, STATUS) as late:
            await late.wait(lambda ms: len(ms) >= 1)
            assert _state(late.on(STATUS)[0]) == "offline" and late.on(STATUS)[0].retain
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()


async def test_sigterm_stops_cleanly_and_says_offline(mosquitto: Mosquitto, tmp_path: Path) -> None:
    proc = _start_edge_process(mosquitto, tmp_path)
    try:
        async with collecting(mosquitto, STATUS) as watcher:
            await watcher.wait(lambda ms: any(_state(m) == "online" for m in ms), timeout=30)
            proc.terminate()
            assert await asyncio.to_thread(proc.wait, 20) == 0
            await watcher.wait(lambda ms: _state(ms[-1]) == "offline")
        assert proc.stderr is not None
        log = proc.stderr.read().decode()
        assert "stop signal received" in log and "stopped" in log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()


async def _put_telemetry(agent: EdgeAgent, device: str, n: int) -> None:
    topic = topics.telemetry(SCHOOL, EDGE, device)
    for i in range(n):

        def build(seq: int, i: int = i) -> bytes:
            return Telemetry(id=device, ts=now(), seq=seq, values={"co2_ppm": 400.0 + i}).to_json()

        await agent.outbox.put(topic, build, 1, Kind.TELEMETRY)


def _seqs(messages: list[Received]) -> list[int]:
    return [json.loads(m.payload)["seq"] for m in messages if "/telemetry/" in m.topic]


async def test_outbox_drains_in_order_across_broker_restarts(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    wanted = f"{topics.edge_base(SCHOOL, EDGE)}/telemetry/#"
    total = 300
    async with (
        collecting(mosquitto, wanted, client_id="test-hub", persistent=True) as hub,
        running(edge_config(mosquitto, tmp_path)) as agent,
    ):
        await _put_telemetry(agent, "co2-1", 100)
        await hub.wait(lambda ms: len(ms) >= 100)
        await asyncio.to_thread(mosquitto.stop)
        await asyncio.wait_for(_until_cleared(agent.link.connected), 10)
        await _put_telemetry(agent, "co2-1", total - 100)  # taken while offline
        assert agent.outbox.backlog == total - 100

        await asyncio.to_thread(mosquitto.start)

        await hub.wait(lambda ms: set(_seqs(ms)) >= set(range(1, total + 1)), timeout=30)
        await _wait_for(lambda: agent.outbox.backlog == 0)
        assert agent.link.connections >= 2
        seqs = _seqs(hub.messages)
        first_seen = list(dict.fromkeys(seqs))
        assert first_seen == list(
            range(1, total + 1)
        )  # in order; a retry may repeat, never reorder
        assert await agent.outbox.count() == 0


async def test_only_pubacked_entries_leave_the_outbox(mosquitto: Mosquitto, tmp_path: Path) -> None:
    wanted = f"{topics.edge_base(SCHOOL, EDGE)}/telemetry/#"
    relay = await TcpRelay(mosquitto.host, mosquitto.port).start()
    try:
        async with (
            collecting(mosquitto, wanted) as hub,
            running(edge_config(mosquitto, tmp_path, url=relay.url)) as agent,
        ):
            await _put_telemetry(agent, "co2-1", 50)
            await hub.wait(lambda ms: len(ms) >= 50)
            await _wait_for(lambda: agent.outbox.backlog == 0)

            # PUBACKs held back: the broker has the messages, the edge does not know it.
            relay.hold()
            await _put_telemetry(agent, "pm-1", 150)
            window = agent.config.mqtt.inflight
            await hub.wait(lambda ms: len(ms) >= 50 + window)
            assert agent.outbox.backlog == 150  # nothing acknowledged, nothing deleted
            relay.cut()
            relay.release()

            await hub.wait(lambda ms: set(_seqs(ms)) >= set(range(1, 201)), timeout=30)
            await _wait_for(lambda: agent.outbox.backlog == 0)
            seqs = _seqs(hub.messages)
            assert list(dict.fromkeys(seqs)) == list(range(1, 201))
            # The window in flight when the line broke was sent again from its oldest entry.
            assert len(seqs) - 200 >= window
            assert agent.link.connections == 2
    finally:
        await relay.close()


async def _until_cleared(event: asyncio.Event) -> None:
    while event.is_set():
        await asyncio.sleep(0.01)


async def _wait_for(predicate: object, timeout: float = 10.0) -> None:
    assert callable(predicate)
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_outbox_written_before_start_is_sent_on_connect(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    config = edge_config(mosquitto, tmp_path)
    wanted = f"{topics.edge_base(SCHOOL, EDGE)}/event/#"
    # A persistent session: the hub must get what the edge sends before it resubscribes.
    async with collecting(mosquitto, wanted, client_id="test-hub", persistent=True) as hub:
        # The broker is down when the box starts: events wait in the outbox.
        await asyncio.to_thread(mosquitto.stop)
        async with EdgeAgent(config) as agent:
            topic = topics.event(SCHOOL, EDGE, "door-1")
            for _ in range(5):
                await agent.outbox.put(
                    topic, lambda seq: json.dumps({"seq": seq}).encode(), 1, Kind.EVENT
                )
            assert not agent.link.connected.is_set()
            await asyncio.to_thread(mosquitto.start)
            await hub.wait(lambda ms: len(ms) >= 5, timeout=20)
            assert [json.loads(m.payload)["seq"] for m in hub.messages] == [1, 2, 3, 4, 5]


async def test_requests_carry_response_topic_and_correlation(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    req_topic = topics.req(SCHOOL, EDGE)
    async with (
        collecting(mosquitto, req_topic, v5=True) as hub,
        running(edge_config(mosquitto, tmp_path)) as agent,
    ):
        tap = Tap(id=uuid.uuid4(), ts=now(), device="door-1", card="em:0F00A1B2C3")
        await agent.outbox.put(req_topic, tap.to_json(), 1, Kind.REQUEST)
        await hub.wait(lambda ms: len(ms) >= 1)
        props = hub.messages[0].properties
        assert props.ResponseTopic == topics.resp(SCHOOL, EDGE)
        assert props.CorrelationData == str(tap.id).encode()
        assert decode_as(Tap, hub.messages[0].payload) == tap


async def test_commands_are_answered(mosquitto: Mosquitto, tmp_path: Path) -> None:
    ack_topic = topics.cmd_ack(SCHOOL, EDGE)
    cmd_topic = topics.cmd(SCHOOL, EDGE)
    async with (
        collecting(mosquitto, ack_topic) as hub,
        running(edge_config(mosquitto, tmp_path)) as agent,
    ):
        identify = Command(id=uuid.uuid4(), cmd="identify")
        unknown = Command(id=uuid.uuid4(), cmd="format.disk", args={"really": True})
        bad_id = uuid.uuid4()
        assert not agent.link.identify_requested.is_set()
        await hub.publish(cmd_topic, identify.to_json())
        await hub.publish(cmd_topic, unknown.to_json())
        await hub.publish(cmd_topic, json.dumps({"v": 1, "id": str(bad_id), "cmd": 42}).encode())
        await hub.publish(cmd_topic, b"not json at all")
        await hub.wait(lambda ms: len(ms) >= 3)
        acks = {a.re: a for a in (decode_as(CommandAck, m.payload) for m in hub.messages)}
        assert acks[identify.id].ok and acks[identify.id].code is Code.CMD_OK
        assert agent.link.identify_requested.is_set()
        assert not acks[unknown.id].ok and acks[unknown.id].code is Code.CMD_UNKNOWN
        assert acks[bad_id].code is Code.ERROR_BAD_REQUEST
        await _wait_for(lambda: agent.link.commands_bad == 2)

        sync = Command(id=uuid.uuid4(), cmd="sync")
        await hub.publish(cmd_topic, sync.to_json())
        await hub.wait(lambda ms: any(decode_as(CommandAck, m.payload).re == sync.id for m in ms))


async def test_heartbeat_reports_health(mosquitto: Mosquitto, tmp_path: Path) -> None:
    topic = topics.heartbeat(SCHOOL, EDGE)
    async with (
        collecting(mosquitto, topic) as hub,
        running(edge_config(mosquitto, tmp_path, heartbeat_s=0.2)) as agent,
    ):
        await hub.wait(lambda ms: len(ms) >= 2)
        beat = decode_as(Heartbeat, hub.messages[-1].payload)
        assert beat.uptime_s > 0
        assert beat.mem_pct is not None and 0 < beat.mem_pct <= 100
        assert beat.disk_pct is not None and beat.cpu_pct is not None
        assert beat.outbox == 0 and beat.devices == {}
        # The counter moves after publish() returns, which may be after the broker delivered.
        await _wait_for(lambda: agent.heartbeat.sent >= 2)
        assert not hub.messages[-1].retain
