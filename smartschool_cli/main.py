"""``smartschool``: one command line for the hub, the edge agent, the simulators and the demo."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from smartschool_cli.command import command_app
from smartschool_cli.inventory import inventory_app

app = typer.Typer(
    name="smartschool",
    help=(
        "Smart-school device platform (Ho Chi Minh City). "
        "Nền tảng thiết bị cho trường học thông minh: edge agents read classroom devices and talk "
        "MQTT to a hub that decides, stores and serves the live wall."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


class BrokerChoice(StrEnum):
    """Which broker the demo runs."""

    AUTO = "auto"
    MOSQUITTO = "mosquitto"
    EMBEDDED = "embedded"


Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")]


@app.command()
def hub(
    config: Annotated[
        Path | None,
        typer.Option(help="TOML file of hub settings; SS_* environment variables override it."),
    ] = None,
    http_port: Annotated[int | None, typer.Option(help="Port of the web pages and API.")] = None,
    mqtt_url: Annotated[str | None, typer.Option(help="Broker, e.g. mqtt://127.0.0.1:1883.")] = None,
    verbose: Verbose = False,
) -> None:
    """Run the hub: MQTT ingest, InfluxDB and database writers, API and live wall."""
    from smartschool_cli.run_hub import run_hub

    _logging(verbose)
    overrides = {k: v for k, v in {"http_port": http_port, "mqtt_url": mqtt_url}.items() if v}
    raise typer.Exit(run_hub(config, overrides, console))


@app.command()
def edge(
    config: Annotated[Path, typer.Argument(help="TOML file of the edge box and its devices.")],
    verbose: Verbose = False,
) -> None:
    """Run an edge agent: read its devices, keep the outbox, talk MQTT to the hub."""
    from edge_agent.app import run_edge
    from edge_agent.settings import ConfigError

    _logging(verbose)
    try:
        status = asyncio.run(run_edge(config))
    except ConfigError as error:
        console.print(f"[red]configuration error / lỗi cấu hình:[/] {error}")
        raise typer.Exit(78) from None
    raise typer.Exit(status)  # 75 after a reboot command that restarts only the agent


@app.command()
def sim(
    family: Annotated[str, typer.Argument(
        help="Device family (mhz19, pms5003, rdm6300, pn532, qrcam), or fleet: many edge boxes.")],
    link: Annotated[Path | None, typer.Argument(
        help="Path of the symlink to the simulated serial port (not for fleet).")] = None,
    speed: Annotated[float, typer.Option(help="School-day clock speed (60 = a minute per second).")] = 1.0,
    seed: Annotated[int | None, typer.Option(help="Random seed for repeatable values.")] = None,
    edges: Annotated[int, typer.Option(min=1, max=20_000, help="fleet: edge boxes.")] = 200,
    schools: Annotated[int | None, typer.Option(min=1, help="fleet: schools (default edges/5).")] = None,
    mqtt_url: Annotated[str, typer.Option(help="fleet: the broker.")] = "mqtt://127.0.0.1:1883",
    heartbeat_s: Annotated[float, typer.Option(min=0.1, help="fleet: heartbeat interval.")] = 30.0,
    telemetry_s: Annotated[float, typer.Option(min=0.1, help="fleet: CO2 and PM interval.")] = 5.0,
    taps_per_s: Annotated[float, typer.Option(min=0, help="fleet: door taps per second.")] = 2.0,
    pays_per_s: Annotated[float, typer.Option(min=0, help="fleet: canteen payments per second.")] = 0.5,
    seed_db: Annotated[str | None, typer.Option(
        help="fleet: first put its schools, students and wallets into this hub database.")] = None,
    verbose: Verbose = False,
) -> None:
    """Simulate a device byte for byte on a pseudo-terminal, or a fleet of edge boxes over MQTT,
    until Ctrl-C."""
    from smartschool_cli.run_sim import FleetArgs, run_fleet_command, run_sim

    _logging(verbose)
    if family == "fleet":
        raise typer.Exit(run_fleet_command(FleetArgs(
            edges=edges, schools=schools, mqtt_url=mqtt_url, heartbeat_s=heartbeat_s,
            telemetry_s=telemetry_s, taps_per_s=taps_per_s, pays_per_s=pays_per_s, speed=speed,
            seed=seed, seed_db=seed_db), console))
    if link is None:
        console.print("[red]A device simulator needs LINK, the path of its serial port.[/]")
        raise typer.Exit(2)
    run_sim(family, link, speed=speed, seed=seed, console=console)


@app.command()
def token(
    role: Annotated[str, typer.Option(
        help="admin, staff, cashier, parent, technician, edge or wall (a live-wall display).")],
    subject: Annotated[str, typer.Option(help="Who the token is for (a user or an edge id).")],
    school: Annotated[str | None, typer.Option(help="The school the token is limited to.")] = None,
    student: Annotated[
        list[int] | None, typer.Option(help="A parent's child (student id); repeat for each.")
    ] = None,
    hours: Annotated[int, typer.Option(min=1, max=24 * 366, help="Validity in hours.")] = 12,
) -> None:
    """Print an API token signed with SS_JWT_SECRET (the hub must use the same secret)."""
    import os

    from hub.auth import Role, TokenSigner

    secret = os.environ.get("SS_JWT_SECRET")
    if not secret or len(secret) < 32:
        console.print("[red]SS_JWT_SECRET must be set to the hub's secret (32+ characters).[/]")
        raise typer.Exit(2)
    try:
        chosen = Role(role)
    except ValueError:
        console.print(f"[red]Unknown role {role!r}; one of: {', '.join(r.value for r in Role)}[/]")
        raise typer.Exit(2) from None
    signer = TokenSigner(secret)
    print(signer.issue(subject, chosen, school=school, students=student, ttl_s=hours * 3600))


@app.command()
def report(
    db_url: Annotated[str, typer.Option(envvar="SS_DB_URL", help="The hub's database URL.")],
    out: Annotated[Path, typer.Option(help="Folder for the XLSX and the CSV files.")] = Path(
        "reports"),
    quarter: Annotated[str | None, typer.Option(help="Quarter, e.g. 2026-Q4.")] = None,
    first: Annotated[datetime | None, typer.Option("--from", formats=["%Y-%m-%d"],
                                                   help="First day (instead of --quarter).")] = None,
    last: Annotated[datetime | None, typer.Option("--to", formats=["%Y-%m-%d"],
                                                  help="Last day, inclusive.")] = None,
    school: Annotated[str | None, typer.Option(help="One school only (its id).")] = None,
    influx_url: Annotated[str | None, typer.Option(envvar="SS_INFLUX_URL",
                                                   help="InfluxDB for CO2 (v1 /query).")] = None,
    influx_db: Annotated[str, typer.Option(envvar="SS_INFLUX_DB")] = "smartschool",
    co2_limit: Annotated[float, typer.Option(help="CO2 limit in ppm.")] = 1500.0,
    zip_csv: Annotated[bool, typer.Option("--zip", help="The CSV files in one zip.")] = False,
) -> None:
    """Quarterly report per school and district (báo cáo quý): XLSX and CSV files."""
    from smartschool_cli.report import run_report

    raise typer.Exit(run_report(
        Console(), db_url=db_url, out=out, quarter=quarter,
        first=first.date() if first else None, last=last.date() if last else None,
        school=school, influx_url=influx_url, influx_db=influx_db, co2_limit=co2_limit,
        as_zip=zip_csv))


@app.command()
def demo(
    http_port: Annotated[int, typer.Option(help="Port of the live wall and API.")] = 8080,
    mqtt_port: Annotated[
        int | None, typer.Option(help="Port of the demo's own broker (default: 1883, or a free one).")
    ] = None,
    rooms: Annotated[int, typer.Option(min=3, max=40, help="Classrooms in the demo school.")] = 3,
    speed: Annotated[float, typer.Option(help="School-day clock speed of the simulated rooms.")] = 120.0,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its databases.")] = Path("var/demo"),
    broker: Annotated[
        BrokerChoice, typer.Option(help="auto: Mosquitto when installed, else the embedded amqtt.")
    ] = BrokerChoice.AUTO,
    verbose: Verbose = False,
) -> None:
    """Bring up the demo school: broker, hub, InfluxDB, classrooms with sensors and door readers,
    a gate and a canteen till, and simulated students tapping in and buying lunch."""
    from smartschool_cli.demo import DemoOptions, run_demo

    _logging(verbose)
    options = DemoOptions(
        http_port=http_port, mqtt_port=mqtt_port, rooms=rooms, speed=speed, data_dir=data_dir,
        broker=broker.value,
    )
    raise typer.Exit(run_demo(options, console))


app.add_typer(command_app, name="command")
app.add_typer(inventory_app, name="inventory")

grafana_app = typer.Typer(
    help="Grafana dashboards of telemetry and device health. / Bảng điều khiển Grafana.",
    no_args_is_help=True,
)
app.add_typer(grafana_app, name="grafana")


@grafana_app.command("push")
def grafana_push(
    url: Annotated[str | None, typer.Option(envvar="SS_GRAFANA_URL", help="Grafana, e.g. http://grafana:3000.")] = None,
    token: Annotated[str | None, typer.Option(envvar="SS_GRAFANA_TOKEN", help="Service account token (Admin).")] = None,
    influx_url: Annotated[str | None, typer.Option(envvar="SS_INFLUX_URL", help="InfluxDB URL for a new datasource.")] = None,
    influx_db: Annotated[str, typer.Option(envvar="SS_INFLUX_DB", help="InfluxDB database.")] = "smartschool",
    directory: Annotated[Path | None, typer.Option("--dir", help="Folder of dashboard JSON files.")] = None,
) -> None:
    """Install the InfluxDB datasource (if missing) and every dashboard into folder Smartschool."""
    from smartschool_cli.grafana import run_push

    raise typer.Exit(run_push(url, token, influx_url=influx_url, influx_db=influx_db,
                              directory=directory, console=console))


if __name__ == "__main__":
    app()
