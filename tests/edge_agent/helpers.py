"""Test tools for the edge agent: a real paho subscriber in its own thread, and config builders."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.settings import EdgeConfig, parse_config
from smartschool_cli.localservers.mosquitto import Mosquitto

SCHOOL = "thpt-tran-dai-nghia"
EDGE = "tdn-11c3"


def edge_config(
    mosquitto: Mosquitto,
    tmp_path: Path,
    *,
    devices: Sequence[dict[str, Any]] = (),
    url: str | None = None,
    **top: Any,
) -> EdgeConfig:
    """A config for a box talking to the test broker, reconnecting quickly."""
    raw: dict[str, Any] = {
        "school": SCHOOL,
        "edge": EDGE,
        "room": "11C3",
        "firmware": "9.9.9-test",
        "heartbeat_s": 3600,
        "mqtt": {
            "url": url or mosquitto.url,
            "keepalive": 10,
            "reconnect_min_s": 0.05,
            "reconnect_max_s": 0.5,
            "publish_timeout_s": 10,
        },
        "outbox": {"path": str(tmp_path / "outbox.sqlite")},
        "devices": list(devices),
    }
    raw.update(top)
    return parse_config(raw, "test config")


@dataclass(frozen=True, slots=True)
class Received:
    """One message a Collector saw."""

    topic: str
    payload: bytes
    retain: bool
    properties: Any = None


class Collector:
    """A paho client (own network thread) that subscribes at QoS 1 and keeps what arrives."""

    def __init__(
        self,
        mosquitto: Mosquitto,
        topics: Sequence[str],
        *,
        client_id: str | None = None,
        persistent: bool = False,
        v5: bool = False,
    ) -> None:
        self.topics = list(topics)
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._subscribed = 0
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-{uuid.uuid4().hex[:12]}",
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else not persistent,
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.connect(mosquitto.host, mosquitto.port, keepalive=10)
        self.client.loop_start()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        client.subscribe([(t, 1) for t in self.topics])

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, rcs: Any, props: Any
    ) -> None:
        with self._cond:
            self._subscribed += 1
            self._cond.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._cond:
            props = getattr(message, "properties", None)
            self.messages.append(
                Received(message.topic, bytes(message.payload), bool(message.retain), props)
            )
            self._cond.notify_all()

    def wait_blocking(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds (checked on every event) or ``timeout`` passes."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    async def wait(
        self, predicate: Callable[[list[Received]], bool], timeout: float = 10.0
    ) -> None:
        """Wait, without blocking the event loop, until ``predicate(messages)`` holds."""
        ok = await asyncio.to_thread(self.wait_blocking, lambda: predicate(self.messages), timeout)
        assert ok, f"condition not met in {timeout}s; got {len(self.messages)} messages"

    async def subscribed(self, timeout: float = 10.0, times: int = 1) -> None:
        """Wait until ``times`` SUBACKs arrived (one per connection: a reconnect makes two)."""
        ok = await asyncio.to_thread(
            self.wait_blocking, lambda: self._subscribed >= times, timeout)
        assert ok, f"fewer than {times} SUBACKs"

    def on(self, topic: str) -> list[Received]:
        """What arrived on ``topic`` so far."""
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    async def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish from this client and wait (in a thread) for the PUBACK."""
        info = self.client.publish(topic, payload, qos=qos)
        await asyncio.to_thread(info.wait_for_publish, 10)
        assert info.is_published()

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


class TcpRelay:
    """A TCP relay between the edge and the broker that a test can stall or cut.

    ``hold()`` stops bytes from the broker reaching the edge (so PUBACKs stay away while the
    edge's publishes still reach the broker); ``cut()`` closes every relayed connection.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """``mqtt://host:port`` of the relay."""
        return f"mqtt://{self.host}:{self.port}"

    async def start(self) -> TcpRelay:
        """Listen on a free port."""
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        for task in (
            asyncio.create_task(self._pump(reader, up_writer, gated=False)),
            asyncio.create_task(self._pump(up_reader, writer, gated=True)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, gated: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                if gated:
                    await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def hold(self) -> None:
        """Keep broker-to-edge bytes back until ``release()``."""
        self._flowing.clear()

    def release(self) -> None:
        """Let held bytes flow again."""
        self._flowing.set()

    def cut(self) -> None:
        """Close every relayed connection (held bytes are dropped with them)."""
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        """Stop listening and cut everything."""
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
