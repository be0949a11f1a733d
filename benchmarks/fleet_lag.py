"""The city wall's lag and the hub's CPU under a fleet of simulated edge boxes.

Usage: ``python benchmarks/fleet_lag.py [--edges 200 500 1000] [--probes 120] [--interval 1]
[--taps-per-s 5] [--pays-per-s 1] [--telemetry-s 5] [--no-influx] [--postgres]``

Method (printed with the results), once per ``--edges`` figure, each on fresh servers:

1. a private Mosquitto, InfluxDB 1.x (unless ``--no-influx``) and a database (SQLite, or a
   private PostgreSQL with ``--postgres``) seeded with the fleet's schools, students and wallets;
2. the hub (``python -m hub``) and ``smartschool sim fleet --edges N`` as processes: every box its
   own MQTT client with a retained birth and a Last Will, CO2 and PM telemetry every
   ``--telemetry-s`` seconds, heartbeats every 30 s, door taps and canteen payments at the
   given fleet-wide rates;
3. once the wall shows every box online, a probe box publishes ``--probes`` marked CO2 readings
   ``--interval`` seconds apart (each after the last was seen), and a client of the wall's SSE
   stream (``/api/v1/live/city/stream``) notes when each shows: lag = shown - published;
4. the hub's CPU is the ``process_cpu_seconds_total`` delta of its ``/metrics`` over the
   probing, as % of one core; the fleet's and the broker's from /proc.

Everything shares the machine's cores; the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from smartschool_cli.localservers.influxdb import InfluxDB1, influxd_binary  # noqa: E402
from smartschool_cli.localservers.mosquitto import Mosquitto  # noqa: E402
from smartschool_cli.localservers.postgres import Postgres, postgres_bindir  # noqa: E402
from tests.e2e.fleet_rig import (  # noqa: E402
    LagReport,
    fleet_process,
    measure_lag,
    seed,
    stop_fleet,
)
from tests.e2e.school import Hub  # noqa: E402


@contextmanager
def database(work: Path, use_postgres: bool) -> Iterator[str]:
    """A fresh database URL: a SQLite file, or a private PostgreSQL's database."""
    if not use_postgres:
        yield f"sqlite:///{work / 'hub.db'}"
        return
    if postgres_bindir() is None:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
    server = Postgres(work / "postgres")
    server.start()
    try:
        server.create_database("fleet")
        yield server.url("fleet")
    finally:
        server.remove()


def run_once(args: argparse.Namespace, edges: int) -> LagReport:
    """One measurement on fresh servers."""
    work = Path(tempfile.mkdtemp(prefix="fleet-lag-"))
    try:
        with ExitStack() as stack:
            broker = Mosquitto(work / "mosquitto")
            broker.start()
            stack.callback(broker.kill)
            env = {}
            if not args.no_influx:
                if influxd_binary() is None:
                    raise SystemExit("influxd is not installed; use --no-influx")
                influx = InfluxDB1(work / "influxdb")
                influx.start()
                stack.callback(influx.stop)
                influx.create_database("fleet")
                env = {"SS_INFLUX_URL": influx.url, "SS_INFLUX_DB": "fleet"}
            db_url = stack.enter_context(database(work, args.postgres))
            seed(db_url, edges)
            hub = Hub(broker.url, db_url, work)
            hub.env.update(env)
            hub.start_ready()
            stack.callback(hub.terminate)
            fleet = fleet_process(broker.url, edges, work, taps_per_s=args.taps_per_s,
                                  pays_per_s=args.pays_per_s, telemetry_s=args.telemetry_s)
            fleet.start()
            stack.callback(lambda: fleet.kill() if fleet.alive() else None)
            assert broker.proc is not None
            report = measure_lag(hub, fleet, broker.proc.pid, broker.url, edges, args.probes,
                                 args.interval)
            code = stop_fleet(fleet, hub)
            if code != 0:
                print(fleet.log()[-2000:], file=sys.stderr)
            return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    """Parse the arguments, measure each fleet size, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edges", type=int, nargs="+", default=[200, 500])
    parser.add_argument("--probes", type=int, default=120)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--taps-per-s", type=float, default=5.0)
    parser.add_argument("--pays-per-s", type=float, default=1.0)
    parser.add_argument("--telemetry-s", type=float, default=5.0)
    parser.add_argument("--no-influx", action="store_true")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
                 "?")
    print(f"machine: nproc {os.cpu_count()}, CPU {model}, Python {platform.python_version()}")
    print(f"fleet: taps {args.taps_per_s}/s, payments {args.pays_per_s}/s, CO2 + PM every "
          f"{args.telemetry_s} s per box, heartbeats every 30 s; store: "
          f"{'PostgreSQL' if args.postgres else 'SQLite'}"
          f"{'' if args.no_influx else ' + InfluxDB 1.x'}", flush=True)
    for edges in args.edges:
        report = run_once(args, edges)
        print(f"\n== {edges} edges ==")
        print("\n".join(report.lines()))
        print(f"load average (1, 5, 15 min): {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
