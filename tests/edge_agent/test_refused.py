"""Messages the broker refuses (MQTT 5 PUBACK reason codes) are kept on the box, not lost."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from pathlib import Path

from edge_agent.outbox import Kind
from protocol import topics
from protocol.decode import decode_as
from protocol.messages import Command, CommandAck
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.edge_agent.helpers import EDGE, SCHOOL, edge_config
from tests.edge_agent.test_link import _wait_for, collecting, running

#: What anonymous clients may do on the test broker while events are forbidden: everything a
#: box does except writing events (as an ACL without the ``event/+`` line would).
_ACL = """\
topic read ss/v1/#
topic write ss/v1/+/+/status
topic write ss/v1/+/+/heartbeat
topic write ss/v1/+/+/telemetry/+
topic write ss/v1/+/+/req
topic write ss/v1/+/+/cmd
topic write ss/v1/+/+/cmd/ack
"""


class AclMosquitto(Mosquitto):
    """The test broker, with an ACL that refuses events while ``refuse_events`` is set."""

    refuse_events = True

    def config_text(self) -> str:
        text = super().config_text()
        if not self.refuse_events:
            return text
        acl = self.data_dir / "acl"
        acl.write_text(_ACL)
        return text + f"acl_file {acl}\n"


def _refused_rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT topic, reason FROM refused ORDER BY id").fetchall()


async def test_refused_entries_leave_the_queue_for_the_refused_table_and_sync_resends_them(
        tmp_path: Path) -> None:
    broker = AclMosquitto(tmp_path / "broker")
    broker.start()
    try:
        config = edge_config(broker, tmp_path)
        telemetry = topics.telemetry(SCHOOL, EDGE, "co2-1")
        event = topics.event(SCHOOL, EDGE, "door-1")
        base = topics.edge_base(SCHOOL, EDGE)
        async with (
            collecting(broker, f"{base}/telemetry/#", f"{base}/event/#", f"{base}/cmd/ack",
                       client_id="test-hub", persistent=True) as hub,
            running(config) as agent,
        ):
            # Interleaved: the refused events must not hold up the readings behind them.
            for i in range(6):
                topic, kind = (event, Kind.EVENT) if i % 2 else (telemetry, Kind.TELEMETRY)
                await agent.outbox.put(topic, json.dumps({"n": i}).encode(), 1, kind)
            await hub.wait(lambda ms: len([m for m in ms if m.topic == telemetry]) == 3)
            await _wait_for(lambda: agent.outbox.refused == 3 and agent.outbox.backlog == 0)
            assert hub.on(event) == []
            published = agent.link.published  # the readings (again, if a drop caught them)
            assert published >= 3
            rows = _refused_rows(config.outbox.path)
            assert rows == [(event, "Not authorized")] * 3
            beat = await agent.heartbeat.build()
            assert (beat.outbox, beat.outbox_refused) == (0, 3)

            # The ACL is mended; a technician sends sync: the kept events go out, in order.
            connections = agent.link.connections
            await asyncio.to_thread(broker.stop)
            broker.refuse_events = False
            await asyncio.to_thread(broker.start)
            await _wait_for(lambda: agent.link.connections > connections
                         and agent.link.connected.is_set())
            await hub.subscribed(times=2)
            sync = Command(id=uuid.uuid4(), cmd="sync")
            await hub.publish(topics.cmd(SCHOOL, EDGE), sync.to_json())
            await hub.wait(lambda ms: len([m for m in ms if m.topic == event]) == 3, timeout=20)
            assert [json.loads(m.payload)["n"] for m in hub.on(event)] == [1, 3, 5]
            ack_topic = topics.cmd_ack(SCHOOL, EDGE)
            await hub.wait(lambda ms: any(m.topic == ack_topic for m in ms))
            ack = next(decode_as(CommandAck, m.payload) for m in hub.messages
                       if m.topic == ack_topic)
            assert ack.re == sync.id and ack.data["requeued"] == 3
            await _wait_for(lambda: agent.outbox.refused == 0 and agent.outbox.backlog == 0)
            assert agent.link.published >= published + 3
            assert _refused_rows(config.outbox.path) == []
    finally:
        broker.stop()

