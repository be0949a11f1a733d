"""The demo school: a broker, a hub, InfluxDB when there is one, and a room per edge agent.

Everything runs in this process but the broker and InfluxDB (private child processes when
installed): the sensors are simulated byte for byte on pseudo-terminals and read by the real
drivers, so the demo exercises the same code as a real school.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel

from smartschool_cli.demo_school import SCHOOL_ID, SCHOOL_NAME, DemoRoom, demo_rooms
from smartschool_cli.demo_servers import (
    DemoBroker,
    DemoInflux,
    DemoServerError,
    start_broker,
    start_influx,
)
from smartschool_cli.localservers.base import port_open

log = logging.getLogger(__name__)

#: Seconds between two readings of a demo sensor: fast enough for a lively wall.
READING_INTERVAL_S = 2.0


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What the ``demo`` command was asked for."""

    http_port: int = 8080
    mqtt_port: int | None = None
    rooms: int = 3
    speed: float = 120.0
    data_dir: Path = Path("var/demo")
    host: str = "127.0.0.1"
    broker: str = "auto"


def run_demo(options: DemoOptions, console: Console) -> int:
    """Run the demo until Ctrl-C or SIGTERM; return the process exit code."""
    if port_open(options.host, options.http_port):
        console.print(
            f"[red]Port {options.http_port} is in use / Cổng {options.http_port} đang bận.[/] "
            "Choose another with --http-port."
        )
        return 2
    try:
        return asyncio.run(_demo(options, console))
    except DemoServerError as error:
        console.print(f"[red]{error}[/]")
        return 2


def edge_config(room: DemoRoom, options: DemoOptions, broker: DemoBroker) -> dict[str, Any]:
    """The TOML document an edge box of ``room`` would have, as a dict."""
    dev = options.data_dir.resolve() / "dev"
    return {
        "school": SCHOOL_ID,
        "edge": room.edge,
        "room": room.name,
        "firmware": "demo-0.1.0",
        "heartbeat_s": 10,
        "mqtt": {"url": broker.url, "protocol": broker.protocol},
        "outbox": {"path": str(options.data_dir.resolve() / "edges" / f"{room.edge}.sqlite")},
        "devices": [
            {"id": "co2-1", "driver": "mhz19", "port": str(dev / f"{room.edge}-co2"),
             "interval_s": READING_INTERVAL_S},
            {"id": "pm-1", "driver": "pms5003", "port": str(dev / f"{room.edge}-pm"),
             "interval_s": READING_INTERVAL_S},
        ],
    }


@contextlib.contextmanager
def simulated_sensors(rooms: list[DemoRoom], options: DemoOptions) -> Iterator[None]:
    """An MH-Z19B and a PMS5003 per room on pseudo-terminals, following a school day."""
    from firmware_sim import make_simulator

    dev = options.data_dir.resolve() / "dev"
    dev.mkdir(parents=True, exist_ok=True)
    sims = []
    try:
        for index, room in enumerate(rooms):
            for family, suffix in (("mhz19", "co2"), ("pms5003", "pm")):
                sim = make_simulator(
                    family, dev / f"{room.edge}-{suffix}", seed=index, speed=options.speed,
                    room=room.profile,
                )
                sim.start()
                sims.append(sim)
        yield
    finally:
        for sim in sims:
            sim.stop()


class _HubHttp:
    """The hub's uvicorn inside the demo's event loop; the demo owns the signals."""

    def __init__(self, app: Any, settings: Any) -> None:
        from hub.serve import EmbeddedHubServer, make_config

        self.server = EmbeddedHubServer(make_config(app, settings, log_level="warning"), app)

    async def __aenter__(self) -> _HubHttp:
        self.task = asyncio.create_task(self.server.serve(), name="demo-http")
        async with asyncio.timeout(60):
            while not self.server.started:
                if self.task.done():
                    raise DemoServerError("the hub's web server did not start; see the log above")
                await asyncio.sleep(0.05)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.request_stop()
        await self.task


async def _demo(options: DemoOptions, console: Console) -> int:
    from edge_agent.app import EdgeAgent
    from edge_agent.settings import parse_config
    from hub.app import create_app
    from hub.settings import load_settings

    options.data_dir.mkdir(parents=True, exist_ok=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    rooms = demo_rooms(options.rooms)
    async with contextlib.AsyncExitStack() as stack:
        broker = await stack.enter_async_context(start_broker(options))
        influx = stack.enter_context(start_influx(options))
        settings = load_settings(
            mqtt_url=broker.url,
            mqtt_protocol=broker.protocol,
            # One hub on Mosquitto: a plain subscription survives a broker restart.
            mqtt_shared=False,
            mqtt_client_id="demo-hub",
            db_url=f"sqlite:///{options.data_dir.resolve() / 'hub.db'}",
            influx_url=influx.url,
            influx_api="v1",
            influx_db="smartschool",
            http_host=options.host,
            http_port=options.http_port,
        )
        await stack.enter_async_context(_HubHttp(create_app(settings), settings))
        stack.enter_context(simulated_sensors(rooms, options))
        for room in rooms:
            config = parse_config(edge_config(room, options, broker), f"demo edge {room.edge}")
            await stack.enter_async_context(EdgeAgent(config))
        console.print(_banner(options, broker, influx, rooms))
        await stop.wait()
        console.print("Stopping the demo school / Đang dừng…")
    console.print("Stopped cleanly / Đã dừng.")
    return 0


def _banner(options: DemoOptions, broker: DemoBroker, influx: DemoInflux, rooms: list[DemoRoom]) -> Panel:
    wall = f"http://{options.host}:{options.http_port}/wall"
    lines = [
        f"[bold]{SCHOOL_NAME}[/] — {len(rooms)} rooms / phòng: " + ", ".join(r.name for r in rooms),
        f"MQTT broker: [cyan]{broker.url}[/]  ({broker.label})",
        f"InfluxDB: {influx.label}",
        f"Hub API: http://{options.host}:{options.http_port}/docs   metrics: /metrics",
        f"Live wall / Màn hình giám sát: [bold green]{wall}[/]",
        "Press Ctrl-C to stop / Nhấn Ctrl-C để dừng.",
    ]
    return Panel("\n".join(lines), title="smartschool demo", expand=False)
