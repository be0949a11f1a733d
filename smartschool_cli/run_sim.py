"""``smartschool sim``: one simulated device on a pseudo-terminal, or a fleet of simulated
edge boxes over MQTT, until Ctrl-C."""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console


def run_sim(family: str, link: Path, *, speed: float, seed: int | None, console: Console) -> None:
    """Serve ``family``'s bytes behind the symlink ``link`` until SIGINT or SIGTERM."""
    from firmware_sim import FAMILIES, make_simulator

    if family not in FAMILIES:
        console.print(f"[red]Unknown device family {family!r}; known: {', '.join(FAMILIES)}[/]")
        raise SystemExit(2)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    link.parent.mkdir(parents=True, exist_ok=True)
    with make_simulator(family, link, seed=seed, speed=speed) as sim:
        console.print(f"{family} simulator on [cyan]{link}[/] -> {sim.slave_path}; Ctrl-C to stop")
        stop.wait()
    console.print("simulator stopped")


@dataclass(frozen=True, slots=True)
class FleetArgs:
    """``smartschool sim fleet``'s options."""

    edges: int
    schools: int | None
    mqtt_url: str
    heartbeat_s: float
    telemetry_s: float
    taps_per_s: float
    pays_per_s: float
    speed: float
    seed: int | None
    seed_db: str | None


def run_fleet_command(args: FleetArgs, console: Console) -> int:
    """Plan the fleet, seed the hub's database if asked, run until Ctrl-C; the exit code."""
    from firmware_sim.fleet import FleetConnectError, FleetOptions, run_fleet
    from firmware_sim.fleet_plan import plan_fleet

    try:
        plan = plan_fleet(args.edges, args.schools)
        options = FleetOptions(
            mqtt_url=args.mqtt_url, heartbeat_s=args.heartbeat_s, telemetry_s=args.telemetry_s,
            taps_per_s=args.taps_per_s, pays_per_s=args.pays_per_s, speed=args.speed,
            seed=args.seed if args.seed is not None else 1)
    except ValueError as error:
        console.print(f"[red]fleet: {error}[/]")
        return 2
    if args.seed_db:
        from smartschool_cli.fleet_seed import seed_fleet

        report = seed_fleet(args.seed_db, plan)
        console.print(f"fleet: {report.schools} schools and {report.students} students with "
                      f"wallets in {args.seed_db}")
        for problem in report.problems[:10]:
            console.print(f"[yellow]{problem}[/]")
    console.print(f"fleet: {args.edges} edge(s) of {len(plan)} school(s) -> {args.mqtt_url}; "
                  "Ctrl-C to stop")
    try:
        stats = run_fleet(plan, options, on_progress=lambda text: console.print(text))
    except FleetConnectError as error:
        console.print(f"[red]fleet: cannot connect to {args.mqtt_url}: {error}[/]")
        return 1
    console.print(f"fleet stopped cleanly: {stats.line()}")
    return 0
