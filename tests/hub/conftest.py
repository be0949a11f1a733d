"""Helpers for hub tests: a paho publisher, an edge-side subscriber, condition waits."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import httpx
import paho.mqtt.client as mqtt
import pytest
import uvicorn
from fastapi import FastAPI
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties

from protocol import Telemetry
from smartschool_cli.localservers.base import free_port
from smartschool_cli.localservers.mosquitto import Mosquitto

T0 = datetime.fromisoformat("2026-11-20T07:30:00+07:00")


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    """Poll ``predicate`` until true, failing the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.02)


def reading(seq: int, device: str = "co2-1", co2: float = 800.0) -> Telemetry:
    """A telemetry message ``seq`` seconds after T0."""
    return Telemetry(id=device, ts=T0 + timedelta(seconds=seq), seq=seq,
                     values={"co2_ppm": co2 + seq, "temp_c": 29.5})


class Peer:
    """A plain MQTT 5 client standing in for an edge: publishes and records what it receives."""

    def __init__(self, broker: Mosquitto, client_id: str | None = None) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"peer-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.received: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self.client.on_message = self._on_message
        self.broker = broker

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.append(msg)

    def connect(self, will: tuple[str, bytes] | None = None) -> Peer:
        """Connect (optionally with a retained QoS 1 Last Will) and start the loop."""
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.connect(self.broker.host, self.broker.port)
        self.client.loop_start()
        wait_until(self.client.is_connected, 10, "peer connection")
        return self

    def subscribe(self, topic: str) -> None:
        """Subscribe at QoS 1 and wait for the SUBACK."""
        done = threading.Event()
        self.client.on_subscribe = lambda *args: done.set()
        self.client.subscribe(topic, qos=1)
        assert done.wait(10)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False,
                properties: Properties | None = None) -> None:
        """Publish; at QoS 1, wait until the broker took it (QoS 0 goes out in order anyway)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if qos > 0:
            info.wait_for_publish(10)

    def close(self) -> None:
        """Disconnect cleanly."""
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def peer(mosquitto: Mosquitto) -> Iterator[Peer]:
    """A connected edge-like MQTT client."""
    client = Peer(mosquitto).connect()
    yield client
    client.close()


@contextmanager
def serve(app: FastAPI) -> Iterator[httpx.Client]:
    """Run ``app`` under a real uvicorn on a free port (lifespan included); yield a client."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), 30, "uvicorn start")
        assert server.started, "uvicorn did not start"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(30)
