"""Student card figures of issue 3: door tap latency at a steady rate, and payments per second.

Usage: ``python benchmarks/card.py [--rate 1000] [--seconds 10] [--students 2000] [--quick]``

Method (printed with the results):

1. taps: a school of ``--students`` carded students in classes of 50 with a timetable, imported
   through the hub's own importer into a private PostgreSQL 15, with two school days of door
   history before today (then ANALYZE, as autovacuum would have run);
   ``python -m hub.ingest.runner`` (a separate process, the production handlers: ``tap`` is
   ``hub.services.attendance.handle_tap``); 50 door readers on 10 edge boxes (one paho MQTT 5
   client per box, TCP_NODELAY on its socket) publish ``tap`` requests at QoS 1 with a response
   topic and correlation data, at ``--rate`` per second on a monotonic schedule (open loop),
   first for a warm-up, then for ``--seconds``. Each student taps once per period (times set to
   this morning's periods), so most taps are a new attendance record, a few are late. Latency
   runs from the publish call to the answer's arrival at the edge client. The publisher, the
   answer receiver, Mosquitto, the hub and PostgreSQL share the machine.
2. payments: ``benchmarks/card_pay.py``'s measurement (PostgreSQL's own one-payment-per-
   transaction rate on one connection, then the rate through tills, Mosquitto, the hub and
   PostgreSQL back to the tills).

The run is bounded (it gives up when answers stop for 30 s) and removes its servers and files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _doors import Doors, door_taps, seed_school, stale_tap, until_answered  # noqa: E402
from card_pay import (  # noqa: E402
    PayResult,
    hub_troubles,
    machine,
    measure_payments,
    percentile,
    start_hub,
    stop_hub,
)

from smartschool_cli.localservers.mosquitto import Mosquitto, mosquitto_binary  # noqa: E402
from smartschool_cli.localservers.postgres import Postgres, postgres_bindir  # noqa: E402

TAP_P99_MS = 10.0
EDGES, DOORS = 10, 5
ERRORS = ("error.", "?")


class TapResult:
    """Latencies and answers of the measured taps."""

    def __init__(self, sent: list[float], answered: list[float], codes: dict[str, int],
                 lag: list[float], troubles: list[str]) -> None:
        self.n = len(sent)
        got = [(s, a) for s, a in zip(sent, answered, strict=True) if a]
        self.missing = self.n - len(got)
        self.latencies = sorted((a - s) * 1000 for s, a in got)
        self.rate = self.n / (max(sent) - min(sent)) if self.n > 1 else 0.0
        self.codes = codes
        self.errors = sum(v for k, v in codes.items() if k.startswith(ERRORS))
        self.lag_p99 = percentile(sorted(lag), 0.99) * 1000
        self.troubles = troubles

    def p(self, q: float) -> float:
        """The ``q`` quantile of the latencies, in ms."""
        return percentile(self.latencies, q) if self.latencies else float("nan")

    @property
    def passed(self) -> bool:
        """p99 within the target, every tap answered, no error answer."""
        return self.p(0.99) <= TAP_P99_MS and not self.missing and not self.errors


def measure_taps(postgres: Postgres, broker: Mosquitto, work: Path, *, students: int,
                 rate: float, seconds: float, warmup: float) -> TapResult:
    """Seed the school, start a hub, tap at ``rate`` for ``warmup`` then ``seconds``."""
    postgres.create_database("cardtap")
    url = postgres.url("cardtap")
    seed_school(url, students)
    warm_n, n = int(rate * warmup), int(rate * seconds)
    rounds = -(-(warm_n + n) // students)
    taps = door_taps(students, rounds, EDGES, DOORS)[:warm_n + n]
    hub_log = work / "hub-tap.log"
    hub = start_hub(broker, url, hub_log, "bench-hub-tap")
    doors = Doors(broker, EDGES)
    try:
        until_answered(doors, stale_tap())
        print(f"taps: warm-up {warm_n} at {rate:,.0f}/s, then {n} measured ...", flush=True)
        doors.run(taps[:warm_n], rate)
        run = doors.run(taps[warm_n:], rate)
    finally:
        doors.close()
        stop_hub(hub)
    return TapResult(run.sent, run.answered, dict(sorted(run.codes.items())), run.lag,
                     hub_troubles(hub_log))


def report(machine_line: str, taps: TapResult, pay: PayResult, rate: float) -> None:
    """The table of both figures against their targets."""
    verdict = "PASS" if taps.passed else "FAIL"
    pay_verdict = "PASS" if pay.ratio >= 1.0 and pay.consistent else "FAIL"
    print()
    print(f"machine: {machine_line}")
    print(f"load average at the end (1, 5, 15 min): {os.getloadavg()}")
    print(f"{'what':<62} {'measured':>22}  {'target':>10}  result")
    print(f"{f'tap -> answer latency at {rate:,.0f} taps/s, p50 / p95 ms':<62} "
          f"{f'{taps.p(0.5):.2f} / {taps.p(0.95):.2f}':>22}")
    print(f"{'tap -> answer latency, p99 / max ms':<62} "
          f"{f'{taps.p(0.99):.2f} / {taps.latencies[-1] if taps.latencies else 0:.1f}':>22}"
          f"  {'p99 <= 10':>10}  {verdict}")
    print(f"{'taps sent / achieved rate per s / publisher lag p99 ms':<62} "
          f"{f'{taps.n} / {taps.rate:,.0f} / {taps.lag_p99:.2f}':>22}")
    print(f"{'taps unanswered / error answers':<62} {f'{taps.missing} / {taps.errors}':>22}"
          f"  {'0 / 0':>10}")
    print(f"{'payments/s, PostgreSQL direct (1 txn per payment, 1 conn)':<62} "
          f"{pay.direct:>22,.0f}")
    print(f"{'payments/s, end to end (till -> hub -> PostgreSQL -> till)':<62} "
          f"{pay.rate:>22,.0f}")
    print(f"{'ratio end to end / direct':<62} {pay.ratio:>22.2f}  {'>= 1.0':>10}  "
          f"{pay_verdict}")
    print(f"{'payment latency under full load, p50 / p99 ms':<62} "
          f"{f'{pay.p50_ms:.1f} / {pay.p99_ms:.1f}':>22}")
    print(f"tap answers: {taps.codes}")
    print(f"pay answers: {pay.codes}; purchases in the ledger: {pay.recorded}; "
          f"ledger check: {pay.problems[:3] or 'ok'}")
    troubles = [line for line in taps.troubles + pay.troubles
                if "no telemetry store configured" not in line]  # expected: no InfluxDB here
    print(f"hub warnings/errors: {len(troubles)}", *troubles[:5], sep="\n  ")
    print("note: the door clients (publisher and answer receiver), Mosquitto, the hub and "
          "PostgreSQL all share this machine's cores.")


def main() -> None:
    """Run both measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="taps per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured tap seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="tap warm-up seconds")
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--n", type=int, default=10_000, help="payments end to end")
    parser.add_argument("--direct", type=int, default=3_000, help="payments run directly")
    parser.add_argument("--tills", type=int, default=4)
    parser.add_argument("--inflight", type=int, default=400)
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup, args.n, args.direct = 4.0, 1.0, 3_000, 1_000
    if postgres_bindir() is None or mosquitto_binary() is None:
        raise SystemExit("needs PostgreSQL and Mosquitto (scripts/bootstrap.sh)")
    work = Path(tempfile.mkdtemp(prefix="bench-card-"))
    postgres, broker = Postgres(work / "pg"), Mosquitto(work / "mosquitto")
    try:
        postgres.start()
        broker.start()
        machine_line = machine(postgres.dsn())
        print(f"machine: {machine_line}", flush=True)
        taps = measure_taps(postgres, broker, work, students=args.students, rate=args.rate,
                            seconds=args.seconds, warmup=args.warmup)
        pay = measure_payments(postgres, broker, work, n=args.n, direct=args.direct,
                               tills=args.tills, inflight=args.inflight,
                               log=lambda text: print(text, flush=True))
        report(machine_line, taps, pay, args.rate)
        if not pay.consistent:
            raise SystemExit("ledger does not match the answers")
    finally:
        broker.kill()
        postgres.remove()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
