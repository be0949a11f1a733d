"""The demo school: a broker, a hub, InfluxDB when there is one, an edge per room, the gate and
the canteen, and students who tap their cards.

Everything runs in this process but the broker and InfluxDB (private child processes when
installed): sensors and card readers are simulated byte for byte on pseudo-terminals and read by
the real drivers, and the school's people come in through the hub's real file importer, so the
demo exercises the same code as a real school.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.panel import Panel

from smartschool_cli.demo_school import (
    CANTEEN_EDGE,
    DOOR_READER,
    SCHOOL_ID,
    SCHOOL_NAME,
    SCHOOL_TIMEZONE,
    TILL,
    DemoRoom,
    demo_rooms,
)
from smartschool_cli.demo_servers import (
    DemoBroker,
    DemoInflux,
    DemoServerError,
    start_broker,
    start_influx,
)
from smartschool_cli.localservers.base import port_open

if TYPE_CHECKING:
    from edge_agent.app import EdgeAgent
    from smartschool_cli.demo_seed import DemoRoster

log = logging.getLogger(__name__)

#: How long the demo's wall displays stay signed in.
WALL_TOKEN_TTL_S = 30 * 24 * 3600


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
    from hub.auth import Role, TokenSigner
    from hub.settings import load_settings
    from smartschool_cli.demo_edges import EdgePlans, demo_secret, simulated_devices
    from smartschool_cli.demo_seed import seed_demo_school, top_up_low_wallets
    from smartschool_cli.demo_students import StudentSimulation

    options.data_dir.mkdir(parents=True, exist_ok=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    rooms = demo_rooms(options.rooms)
    secret = demo_secret(options.data_dir)
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
            # Fixed per data directory: the edges' and the banner's tokens survive a restart.
            jwt_secret=secret,
        )
        app = create_app(settings)
        await stack.enter_async_context(_HubHttp(app, settings))
        engine = app.state.engine
        roster = await asyncio.to_thread(seed_demo_school, engine, rooms,
                                         options.data_dir.resolve() / "school-files")
        readers = stack.enter_context(simulated_devices(rooms, options))
        signer = TokenSigner(secret)
        agents: dict[str, EdgeAgent] = {}
        for raw in EdgePlans(options, broker, signer).all(rooms):
            config = parse_config(raw, f"demo edge {raw['edge']}")
            agents[config.edge] = await stack.enter_async_context(EdgeAgent(config))
        students = StudentSimulation(
            readers, agents[CANTEEN_EDGE].tills[TILL].set_sale, roster.students, roster.lost_card,
            speed=options.speed,
            new_day=lambda: asyncio.to_thread(top_up_low_wallets, engine, roster.students),
        )
        token = signer.issue("demo-staff", Role.STAFF, school=SCHOOL_ID)
        token_file = _token_file(options.data_dir / "staff-token.txt", token)
        technician_file = _token_file(
            options.data_dir / "technician-token.txt",
            signer.issue("demo-technician", Role.TECHNICIAN, school=SCHOOL_ID))
        # A display stays signed in for its token's life: a month for the demo's walls.
        wall_token = signer.issue("demo-wall", Role.WALL, ttl_s=WALL_TOKEN_TTL_S)
        _token_file(options.data_dir / "wall-token.txt", wall_token)
        async with asyncio.TaskGroup() as tasks:
            simulation = tasks.create_task(students.run(), name="demo-students")
            console.print(_banner(options, broker, influx, rooms, roster, agents))
            console.print(_api_example(options, token, token_file), soft_wrap=True)
            console.print(f"[bold]Technician token / Mã kỹ thuật viên[/] for the console / cho "
                          f"trang kỹ thuật: {technician_file}", soft_wrap=True)
            console.print(f"[bold]Open the live wall / Mở màn hình giám sát[/] (signs this "
                          f"browser in / đăng nhập trình duyệt này): "
                          f"{_base(options)}/wall/login?token={wall_token}&next=wall",
                          soft_wrap=True)
            await stop.wait()
            simulation.cancel()
        console.print("Stopping the demo school / Đang dừng…")
    console.print("Stopped cleanly / Đã dừng.")
    return 0


def _base(options: DemoOptions) -> str:
    return f"http://{options.host}:{options.http_port}"


def _token_file(path: Path, token: str) -> Path:
    """Write a token readable by its owner only, for the banner to point at."""
    path.touch(mode=0o600)
    path.write_text(token + "\n", encoding="ascii")
    return path


def _screen(agent: EdgeAgent, device: str) -> str:
    assert agent.screen is not None  # every card box of the demo has its screen on
    return f"{agent.screen.url}/device/{device}"


def _banner(options: DemoOptions, broker: DemoBroker, influx: DemoInflux, rooms: list[DemoRoom],
            roster: DemoRoster, agents: dict[str, EdgeAgent]) -> Panel:
    base = _base(options)
    wall = f"{base}/wall"
    classes = [r for r in rooms if r.is_classroom]
    nfc = sum(1 for s in roster.students if s.nfc_card)
    lines = [
        f"[bold]{SCHOOL_NAME}[/] — {len(rooms)} rooms / phòng: " + ", ".join(r.name for r in rooms),
        f"Students / Học sinh: {len(roster.students)} in {len(classes)} classes / lớp, "
        f"{nfc} with a canteen NFC card / có thẻ NFC căn tin",
        f"School files / Tệp của trường: {roster.files}",
        f"MQTT broker: [cyan]{broker.url}[/]  ({broker.label})",
        f"InfluxDB: {influx.label}",
        f"Hub API: {base}/docs   metrics: /metrics",
        f"Live wall / Màn hình giám sát: [bold green]{wall}[/]   city / toàn thành phố: "
        f"[green]{wall}/city[/]  (sign in below / đăng nhập ở dưới)",
        f"Technicians' console / Trang kỹ thuật viên: [green]{base}/console[/]",
        f"Door screen / Màn hình cửa lớp {classes[0].name}: "
        f"[cyan]{_screen(agents[classes[0].edge], DOOR_READER)}[/]",
        f"Till screen / Màn hình quầy căn tin: [cyan]{_screen(agents[CANTEEN_EDGE], TILL)}[/]",
        "Press Ctrl-C to stop / Nhấn Ctrl-C để dừng.",
    ]
    return Panel("\n".join(lines), title="smartschool demo", expand=False)


def _api_example(options: DemoOptions, token: str, token_file: Path) -> str:
    today = datetime.now(ZoneInfo(SCHOOL_TIMEZONE)).date().isoformat()
    url = (f"http://{options.host}:{options.http_port}/api/v1/schools/{SCHOOL_ID}/classes/"
           f"10A1/attendance?date={today}")
    return (
        f"[bold]Staff token / Mã truy cập nhân viên[/] (12 h, also in {token_file}):\n{token}\n"
        "[bold]Try the API / Thử API[/] (class 10A1 today / lớp 10A1 hôm nay):\n"
        f'curl -s -H "Authorization: Bearer $(cat {token_file})" "{url}"'
    )
