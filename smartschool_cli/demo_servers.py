"""The demo's broker and InfluxDB: ours when installed, someone else's when asked, or none."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import urllib3

from smartschool_cli.localservers.base import ServerError, free_port, port_open
from smartschool_cli.localservers.influxdb import InfluxDB1, influxd_binary
from smartschool_cli.localservers.mosquitto import Mosquitto, mosquitto_binary

if TYPE_CHECKING:
    from smartschool_cli.demo import DemoOptions

DEFAULT_MQTT_PORT = 1883


class DemoServerError(RuntimeError):
    """A server the demo needs could not be had; the message says what to do."""


@dataclass(frozen=True, slots=True)
class DemoBroker:
    """Where the demo's MQTT broker is and what it is."""

    url: str
    label: str
    protocol: Literal["5", "3.1.1"]


@dataclass(frozen=True, slots=True)
class DemoInflux:
    """Where telemetry goes, if anywhere."""

    url: str | None
    label: str


def _mqtt_port(options: DemoOptions) -> int:
    if options.mqtt_port is not None:
        if port_open(options.host, options.mqtt_port):
            raise DemoServerError(
                f"Port {options.mqtt_port} is in use / Cổng {options.mqtt_port} đang bận: "
                "choose another with --mqtt-port."
            )
        return options.mqtt_port
    return DEFAULT_MQTT_PORT if not port_open(options.host, DEFAULT_MQTT_PORT) else free_port()


@contextlib.asynccontextmanager
async def start_broker(options: DemoOptions) -> AsyncIterator[DemoBroker]:
    """A private Mosquitto with persistence, or an embedded amqtt broker without Mosquitto."""
    port = _mqtt_port(options)
    if options.broker == "mosquitto" and mosquitto_binary() is None:
        raise DemoServerError("Mosquitto is not installed (apt-get install mosquitto)")
    if options.broker != "embedded" and mosquitto_binary() is not None:
        server = Mosquitto(options.data_dir.resolve() / "mosquitto", port=port)
        try:
            server.start()
        except ServerError as error:
            raise DemoServerError(f"Mosquitto did not start: {error}") from error
        try:
            yield DemoBroker(server.url, "Mosquitto, private, with persistence", "5")
        finally:
            server.stop()
        return
    from smartschool_cli.embedded_broker import EmbeddedBroker

    broker = EmbeddedBroker(options.host, port)
    await broker.start()
    try:
        why = "as asked" if options.broker == "embedded" else "Mosquitto is not installed"
        yield DemoBroker(
            broker.url,
            f"embedded amqtt broker, {why}: MQTT 3.1.1, no shared subscriptions",
            "3.1.1",
        )
    finally:
        await broker.stop()


def _reachable(url: str) -> bool:
    try:
        answer = urllib3.request("GET", f"{url.rstrip('/')}/ping", timeout=2.0, retries=False)
    except urllib3.exceptions.HTTPError:
        return False
    return answer.status in (200, 204)


@contextlib.contextmanager
def start_influx(options: DemoOptions) -> Iterator[DemoInflux]:
    """SS_INFLUX_URL when reachable, else a private influxd when installed, else none."""
    wanted = os.environ.get("SS_INFLUX_URL")
    if wanted:
        if _reachable(wanted):
            yield DemoInflux(wanted, f"[cyan]{wanted}[/] (from SS_INFLUX_URL)")
        else:
            yield DemoInflux(
                None,
                f"[yellow]{wanted} is not reachable: telemetry is not stored, the live wall still "
                "works / không kết nối được InfluxDB: dữ liệu không được lưu.[/]",
            )
        return
    if influxd_binary() is None:
        yield DemoInflux(
            None,
            "[yellow]not installed: telemetry is not stored, the live wall still works "
            "(apt-get install influxdb) / chưa cài InfluxDB: dữ liệu không được lưu.[/]",
        )
        return
    server = InfluxDB1(options.data_dir.resolve() / "influxdb")
    try:
        server.start()
    except ServerError as error:
        yield DemoInflux(None, f"[yellow]influxd did not start ({error}): telemetry is not stored.[/]")
        return
    try:
        server.create_database("smartschool")
        yield DemoInflux(server.url, f"[cyan]{server.url}[/] (private InfluxDB 1.x, database smartschool)")
    finally:
        server.stop()
