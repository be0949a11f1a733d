"""The hub's own PUBLISH reader and PUBACK writer, fed packets no real broker would send.

Mosquitto refuses malformed packets before they reach a subscriber, so these tests put a
scripted broker on a real TCP socket in its place: it answers CONNECT and SUBSCRIBE, then sends
PUBLISH packets byte for byte as chosen here (split across reads, with bad topics, other
properties, DUP, QoS 0), and reads the PUBACKs the hub's ``MqttLink`` writes back.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from hub.ingest.mqtt import MqttLink
from hub.metrics import HubMetrics
from hub.settings import HubSettings
from tests.hub.conftest import wait_until


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + _varint(len(body)) + body


def publish(topic: bytes, payload: bytes, mid: int | None, properties: bytes = b"\x02\x0b\x01",
            dup: bool = False) -> bytes:
    """A PUBLISH as Mosquitto sends it to the hub's main subscription (MQTT 5)."""
    first = 0x30 | (0x08 if dup else 0) | (0x02 if mid is not None else 0)
    body = struct.pack(">H", len(topic)) + topic
    if mid is not None:
        body += struct.pack(">H", mid)
    return _packet(first, body + properties + payload)


class ScriptedBroker:
    """One connection: CONNACK, a SUBACK per SUBSCRIBE, then whatever ``send`` is given."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conn: socket.socket | None = None
        self.subscribed = threading.Event()
        self.pubacks: list[int] = []
        self.other: list[int] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _read_packet(self, conn: socket.socket) -> tuple[int, bytes] | None:
        head = conn.recv(1)
        if not head:
            return None
        length, shift = 0, 0
        while True:
            got = conn.recv(1)
            if not got:
                return None
            byte = got[0]
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
        body = b""
        while len(body) < length:
            chunk = conn.recv(length - len(body))
            if not chunk:
                return None
            body += chunk
        return head[0], body

    def _serve(self) -> None:
        try:
            self._talk()
        except OSError:
            pass  # the test closed the sockets

    def _talk(self) -> None:
        conn, _ = self.server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = conn
        subscribes = 0
        while (packet := self._read_packet(conn)) is not None:
            kind, body = packet
            if kind >> 4 == 1:  # CONNECT
                conn.sendall(_packet(0x20, b"\x00\x00\x00"))
            elif kind >> 4 == 8:  # SUBSCRIBE: one filter each, granted QoS 1
                conn.sendall(_packet(0x90, body[:2] + b"\x00\x01"))
                subscribes += 1
                if subscribes == 2:
                    self.subscribed.set()
            elif kind == 0x40:  # PUBACK
                with self._lock:
                    self.pubacks.append(struct.unpack(">H", body[:2])[0])
                    if len(body) != 2:
                        self.other.append(kind)
            elif kind >> 4 == 12:  # PINGREQ
                conn.sendall(b"\xd0\x00")
            else:
                with self._lock:
                    self.other.append(kind)

    def send(self, data: bytes) -> None:
        """Write raw bytes to the hub."""
        assert self.conn is not None
        self.conn.sendall(data)

    def acked(self) -> list[int]:
        """Packet ids acknowledged so far, in order."""
        with self._lock:
            return list(self.pubacks)

    def close(self) -> None:
        """Drop the connection and stop listening."""
        if self.conn is not None:
            self.conn.close()
        self.server.close()


class Received:
    """What the link handed to its handler, acknowledged at once."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, dict[str, Any]]] = []
        self.bursts = 0
        self.link: MqttLink | None = None

    def on_message(self, topic: str, payload: bytes, properties: dict[str, Any],
                   delivery: int) -> None:
        self.messages.append((topic, payload, properties))
        assert self.link is not None
        self.link.ack(delivery)

    def on_burst_end(self) -> None:
        self.bursts += 1


@pytest.fixture
def rig() -> Iterator[tuple[ScriptedBroker, Received, MqttLink]]:
    broker = ScriptedBroker()
    got = Received()
    settings = HubSettings(mqtt_url=f"mqtt://127.0.0.1:{broker.port}", mqtt_client_id="hub-t")
    link = MqttLink(settings, HubMetrics(), got.on_message)
    link.set_handler(got.on_message, got.on_burst_end)
    got.link = link
    link.start()
    try:
        assert broker.subscribed.wait(10), "the link never subscribed"
        assert link.wait_ready(10)
        yield broker, got, link
    finally:
        link.stop()
        broker.close()


TOPIC = b"ss/v1/thpt-nguyen-du/e1/telemetry/co2-1"


def test_packets_split_anywhere_are_delivered_whole_and_acked_in_order(
        rig: tuple[ScriptedBroker, Received, MqttLink]) -> None:
    broker, got, _ = rig
    # The third at QoS 0: no packet id, no PUBACK.
    packets = [publish(TOPIC, b'{"n":%d}' % i, mid=None if i == 2 else i + 1) for i in range(6)]
    stream = b"".join(packets)
    # Cut inside a fixed header, inside a topic, inside a payload: each piece is sent only
    # once the hub has handled everything before it, so each arrives in a read of its own.
    cuts = [0, len(packets[0]) + 1, len(packets[0]) + len(packets[1]) + 9, len(stream) - 3,
            len(stream)]
    for start, end in zip(cuts, cuts[1:], strict=False):
        done = stream[:start].count(b'{"n":')
        wait_until(lambda d=done: len(got.messages) >= d, 5, f"{done} messages")
        broker.send(stream[start:end])
    wait_until(lambda: len(broker.acked()) == 5, 5, "five PUBACKs")
    assert [payload for _, payload, _ in got.messages] == [b'{"n":%d}' % i for i in range(6)]
    assert {topic for topic, _, _ in got.messages} == {TOPIC.decode()}
    assert broker.acked() == [1, 2, 4, 5, 6]
    assert broker.other == []  # bare PUBACKs, nothing else
    assert got.bursts >= 4


def test_unusual_packets_take_the_general_path_and_bad_ones_are_skipped(
        rig: tuple[ScriptedBroker, Received, MqttLink]) -> None:
    broker, got, _ = rig
    correlation = b"\x09\x00\x03abc"  # correlation data "abc"
    props = bytes((len(correlation) + 2,)) + correlation + b"\x0b\x01"
    broker.send(b"".join([
        publish(b"ss/v1/s/e/req", b"with-properties", mid=10, properties=props),
        publish(TOPIC, b"redelivered", mid=11, dup=True),
        publish(TOPIC, b"qos0", mid=None),
        publish(b"ss/v1/s/\xff\xfe/telemetry/x", b"bad-topic", mid=12),  # not UTF-8
        publish(TOPIC, b"truncated-properties", mid=13, properties=b"\x05\x0b"),
        publish(TOPIC, b"after", mid=14),
    ]))
    wait_until(lambda: any(p == b"after" for _, p, _ in got.messages), 5, "the last message")
    payloads = [payload for _, payload, _ in got.messages]
    assert payloads == [b"with-properties", b"redelivered", b"qos0", b"after"]
    assert got.messages[0][2]["correlation_data"] == [b"abc"]
    wait_until(lambda: 14 in broker.acked(), 5, "the last PUBACK")
    # The skipped ones are not acknowledged (the broker keeps them); QoS 0 has no PUBACK.
    assert broker.acked() == [10, 11, 14]
