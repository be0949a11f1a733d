"""Load generation for benchmarks: a minimal MQTT 3.1.1 socket publisher, or mosquitto_pub.

``RawPublisher``: every PUBLISH packet is built before the clock starts and written in large
chunks, so the publisher costs almost nothing per message and the broker's intake is the
ceiling. At QoS 1 at most ``WINDOW`` messages are unacknowledged, which keeps the 16-bit packet
ids from colliding (the broker acknowledges in order, and the window is far below 65,535).
"""

from __future__ import annotations

import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from smartschool_cli.localservers.mosquitto import Mosquitto

WINDOW = 20_000
CHUNK = 500  # packets per write
PUB_CHUNK = 50_000  # mosquitto_pub -l at QoS 1 loses messages past 65,535 (its id wraps)
PUB_ID = "bench-pub"
Messages = list[tuple[str, str]]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + _varint(len(body)) + body


def publish_packets(messages: Iterable[tuple[str, str]], qos: int) -> list[bytes]:
    """One encoded PUBLISH per ``(topic, payload)``; packet ids 1..65535, then again."""
    packets = []
    for i, (topic, payload) in enumerate(messages):
        name = topic.encode()
        mid = struct.pack("!H", i % 65_535 + 1) if qos else b""
        body = struct.pack("!H", len(name)) + name + mid + payload.encode()
        packets.append(_packet(0x30 | qos << 1, body))
    return packets


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        part = sock.recv(size - len(data))
        if not part:
            raise ConnectionError("broker closed the connection")
        data += part
    return data


class RawPublisher:
    """One connection that writes prepared PUBLISH packets as fast as the broker reads them."""

    def __init__(self, host: str, port: int, client_id: str) -> None:
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        name = client_id.encode()
        # Protocol "MQTT" level 4, clean session, no keepalive (the run is short).
        body = b"\x00\x04MQTT\x04\x02\x00\x00" + struct.pack("!H", len(name)) + name
        self.sock.sendall(_packet(0x10, body))
        connack = _recv_exact(self.sock, 4)
        if connack[0] != 0x20 or connack[3] != 0:
            raise ConnectionError(f"CONNACK refused: {connack.hex()}")
        self._acked = self._sent = 0
        self._moved = threading.Condition()

    def _window_open(self) -> bool:
        return self._sent - self._acked < WINDOW

    def _read_acks(self, expected: int) -> None:
        # Only PUBACKs (4 bytes each) come back to a client that publishes and never pings.
        received = 0
        while received < expected * 4:
            part = self.sock.recv(65_536)
            if not part:
                break
            received += len(part)
            with self._moved:
                self._acked = received // 4
                self._moved.notify_all()

    def run(self, packets: list[bytes], qos: int) -> float:
        """Send every packet; return when the broker has taken them all (seconds taken)."""
        reader = None
        if qos:
            reader = threading.Thread(target=self._read_acks, args=(len(packets),), daemon=True)
            reader.start()
        started = time.monotonic()
        for start in range(0, len(packets), CHUNK):
            if qos:
                self._sent = start
                with self._moved:
                    if not self._moved.wait_for(self._window_open, 60):
                        raise TimeoutError("broker stopped acknowledging")
            self.sock.sendall(b"".join(packets[start:start + CHUNK]))
        if reader is not None:
            reader.join(120)
            if self._acked < len(packets):
                raise TimeoutError(f"{self._acked} of {len(packets)} acknowledged")
        else:
            # The broker handles a connection's packets in order: the PINGRESP comes after all.
            self.sock.sendall(b"\xc0\x00")
            if _recv_exact(self.sock, 2) != b"\xd0\x00":
                raise ConnectionError("unexpected answer to PINGREQ")
        return time.monotonic() - started

    def close(self) -> None:
        """Send DISCONNECT and close the socket."""
        try:
            self.sock.sendall(b"\xe0\x00")
        finally:
            self.sock.close()


class Publisher(threading.Thread):
    """Publishes all messages in the background; ``started`` and ``seconds`` say when and how long.

    ``python``: one socket writing prepared packets (``RawPublisher``). ``mosquitto_pub``: ``-l``,
    one process per topic, four at a time, in chunks under 50,000 lines.
    """

    def __init__(self, broker: Mosquitto, msgs: Messages, qos: int, tool: str) -> None:
        super().__init__(name="bench-publisher", daemon=True)
        self.broker, self.qos, self.tool = broker, qos, tool
        self.n = len(msgs)
        self.started = self.seconds = 0.0
        self.error: Exception | None = None
        self._packets: list[bytes] = []
        self._by_topic: dict[str, list[str]] = {}
        if tool == "python":
            self._packets = publish_packets(msgs, qos)
            self._client = RawPublisher(broker.host, broker.port, PUB_ID)
        else:
            for topic, payload in msgs:
                self._by_topic.setdefault(topic, []).append(payload)

    def start(self) -> None:
        """Start publishing now: ``started`` is the consumer's clock too."""
        self.started = time.monotonic()
        super().start()

    @property
    def rate(self) -> float:
        """Messages per second over the publisher's own run."""
        return self.n / self.seconds if self.seconds else 0.0

    def run(self) -> None:
        """Publish; an error is kept for ``finish`` to raise."""
        try:
            if self.tool == "python":
                self.seconds = self._client.run(self._packets, self.qos)
                self._client.close()
            else:
                with ThreadPoolExecutor(4) as pool:
                    for future in [pool.submit(self._one_topic, t, lines)
                                   for t, lines in self._by_topic.items()]:
                        future.result()
                self.seconds = time.monotonic() - self.started
        except Exception as error:  # noqa: BLE001 - re-raised by finish()
            self.error = error
        finally:
            self._packets, self._by_topic = [], {}  # a finished publisher keeps only its figures

    def _one_topic(self, topic: str, lines: list[str]) -> None:
        for start in range(0, len(lines), PUB_CHUNK):
            body = ("\n".join(lines[start:start + PUB_CHUNK]) + "\n").encode()
            subprocess.run(["mosquitto_pub", "-h", self.broker.host, "-p", str(self.broker.port),
                            "-q", str(self.qos), "-t", topic, "-l"],
                           input=body, check=True, timeout=300)

    def finish(self, timeout: float = 300) -> Publisher:
        """Wait for the end of publishing; raise what went wrong in it."""
        self.join(timeout)
        if self.is_alive():
            raise RuntimeError("publisher did not finish")
        if self.error is not None:
            raise RuntimeError(f"publisher failed: {self.error!r}") from self.error
        return self


def publish_all(broker: Mosquitto, msgs: Messages, qos: int, tool: str) -> Publisher:
    """Publish every message and wait until the broker took them."""
    publisher = Publisher(broker, msgs, qos, tool)
    publisher.start()
    return publisher.finish()
