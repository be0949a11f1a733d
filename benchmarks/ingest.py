"""End-to-end ingest rate of one hub process against Mosquitto's raw delivery rate, two ways.

Usage: ``python benchmarks/ingest.py [--method backlog|live|both] [--qos 0 1] [--n N] [--quick]
[--repeat R] [--publisher python|mosquitto_pub]``

Both methods use the same N telemetry messages (valid ``protocol.Telemetry`` payloads of ~125
bytes from 10 edges x 5 devices, every one with its own ``ts`` and ``seq``, so nothing collapses
in InfluxDB) and the same two consumers, each on a fresh broker:

- raw: ``mosquitto_sub -c -i bench-raw -q Q -t ss/v1/# -C N``, which exits after the N-th
  message; it writes to a file on tmpfs (measured as cheap as /dev/null) so that a shortfall can
  be counted.
- hub: ``python -m hub.ingest.runner`` as its own process (SS_* settings, SQLite registry,
  InfluxDB 1.6.7 with fsync on every write); its N-th message counts as received when InfluxDB's
  count reaches N: a full count every 0.25 s, then, once the rate says the end is near, a count
  of the last messages (by their times) every 20 ms; the clock stops when that count returned
  complete and a full count confirms N. The hub's ingest settings SS_BATCH_SIZE,
  SS_BATCH_WAIT_MS, SS_RECEIVE_MAXIMUM and SS_WRITE_CONCURRENCY pass through from the
  environment, to compare them. Each hub run also prints the CPU time the hub, the broker and
  InfluxDB spent per message over the run (psutil): where the two cores went.

backlog (consumer-only throughput): the consumer's persistent session is registered, the N
messages are queued for it while it is offline, then it connects and takes them all. The raw
clock runs from the start of ``mosquitto_sub`` to its exit; the hub's from its log line "MQTT
connected" (after Python's start-up and the database migration, which are not ingest).

live (throughput while the publisher runs): the consumer is started and subscribed first (raw:
the broker logs its subscription; hub: its log says "MQTT subscribed"), then the publisher sends
the N messages at full speed; rate = N / (first publish to N-th message received). The
publisher's own rate (N / its duration) is printed too: a consumer close to it was held back by
publishing (the publisher, or the broker taking messages in while it delivers), not by itself.

Publisher: ``python`` (default) is ``benchmarks/_publish.py``, one socket writing ready-made
PUBLISH packets; ``mosquitto_pub`` is ``mosquitto_pub -l``, one process per topic, four at a
time, in chunks under 50,000 lines (its message id wraps at 65,535 at QoS 1). Measured into an
idle broker on 2 cores (2026-11): python ~240k msg/s at QoS 0 and ~80k at QoS 1, mosquitto_pub
~38k at both (one short-lived process per topic); so python is the default: mosquitto_pub would
cap the live rates.

Every row is run R times (default 3, ``--quick`` 1), raw and hub alternating; the medians are
shown. Lost messages: a consumer that makes no progress for 15 s after publishing ended (or passes
its deadline) is stopped; the row shows what arrived and the rate over it, marked ``*``. A hub
that lost messages fails its row. The broker is Mosquitto with the test suite's config plus
``queue_qos0_messages true`` (so QoS 0 waits for an offline session as QoS 1 does) and
persistence off (its once-a-second snapshot of a large queue would weigh on both sides alike).
Publisher, broker, consumer and InfluxDB share the machine's cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from _ingest_setup import (
    RAW_ID,
    BenchMosquitto,
    CpuMeter,
    HubProcess,
    Outcome,
    machine,
    messages,
    raw_command,
    raw_sink,
    register_hub,
    register_raw,
    run_raw,
    stored_counter,
    wait_stored,
)
from _publish import Messages, Publisher, publish_all

from smartschool_cli.localservers.influxdb import InfluxDB1

TARGETS = {0: 0.5, 1: 0.7}
DEFAULT_N = {0: 300_000, 1: 150_000}
QUICK_N = {0: 60_000, 1: 30_000}
DEFAULT_REPEAT, QUICK_REPEAT = 3, 1
CEILING = 0.9  # a consumer above this share of its publisher's rate may be publisher-bound

METHODS = """\
Methods (same messages, same consumers, a fresh broker for each run):
  backlog  N messages queued for the consumer's offline persistent session, then taken at once:
           consumer-only throughput. raw = mosquitto_sub -c -C N from start to exit; hub =
           python -m hub.ingest.runner from its "MQTT connected" until InfluxDB counts N.
  live     consumer connected and subscribed first, then N published at full speed: rate =
           N / (first publish -> N-th received: mosquitto_sub exit, or InfluxDB counting N).
  Each run is repeated (raw, hub, raw, hub, ...) and the medians are shown. pub msg/s is the
  publisher's own rate (the slower of the raw and hub sides); `*` marks a consumer that stopped
  short of N in some run (rate over what arrived); a hub that lost messages fails its row."""


@dataclass
class Side:
    """The repeated runs of one consumer; the medians are reported."""

    outcomes: list[Outcome] = field(default_factory=list)
    pub_rates: list[float] = field(default_factory=list)

    def add(self, got: tuple[Outcome, Publisher]) -> Outcome:
        """Record one run; return its outcome."""
        self.outcomes.append(got[0])
        self.pub_rates.append(got[1].rate)
        return got[0]

    @property
    def rate(self) -> float:
        """Median msg/s (over what arrived)."""
        return median(o.rate for o in self.outcomes)

    @property
    def pub_rate(self) -> float:
        """Median msg/s of the publisher."""
        return median(self.pub_rates)

    @property
    def complete(self) -> bool:
        """Whether every run got all N."""
        return all(o.complete for o in self.outcomes)


@dataclass
class Row:
    """One method and QoS: both consumers, each with its publisher."""

    method: str
    qos: int
    n: int
    raw: Side = field(default_factory=Side)
    hub: Side = field(default_factory=Side)

    @property
    def ratio(self) -> float:
        """Hub rate over raw rate."""
        return self.hub.rate / self.raw.rate if self.raw.rate else 0.0

    @property
    def passed(self) -> bool:
        """Everything stored, and fast enough against raw delivery."""
        return self.hub.complete and self.ratio >= TARGETS[self.qos]


def _start_raw(broker: BenchMosquitto, qos: int, n: int, out: Path) -> subprocess.Popen[bytes]:
    with out.open("wb") as sink:
        return subprocess.Popen(raw_command(broker, qos, n), stdout=sink)


def _deadlines(n: int) -> tuple[float, float]:
    """Seconds (raw, hub) before a run is cut off even if it still makes progress."""
    return max(60.0, n / 2000), max(60.0, n / 1000)


def backlog_raw(qos: int, msgs: Messages, work: Path, tool: str,
                tag: str) -> tuple[Outcome, Publisher]:
    """Queue for mosquitto_sub's offline session, then time it taking the backlog."""
    n = len(msgs)
    with BenchMosquitto(work / f"backlog-raw-{tag}") as broker:
        register_raw(broker, qos)
        publisher = publish_all(broker, msgs, qos, tool)
        out = raw_sink(work)
        started = time.monotonic()
        proc = _start_raw(broker, qos, n, out)
        return run_raw(proc, out, n, started, _deadlines(n)[0]), publisher


def backlog_hub(qos: int, msgs: Messages, influx: InfluxDB1, work: Path, tool: str,
                tag: str) -> tuple[Outcome, Publisher]:
    """Queue for the hub's offline session, then time the hub storing the backlog."""
    n, db = len(msgs), f"backlog_{tag.replace('-', '_')}"
    influx.create_database(db)
    with BenchMosquitto(work / f"backlog-hub-{tag}") as broker:
        register_hub(broker)
        publisher = publish_all(broker, msgs, qos, tool)
        hub = HubProcess(broker, influx, db, work / f"backlog-hub-{tag}")
        try:
            started = hub.wait_for("MQTT connected")
            meter = _meter(hub, broker, influx)
            outcome = meter.per_message(wait_stored(hub, stored_counter(influx, db), n,
                                                    started, _deadlines(n)[1]))
        finally:
            hub.stop()
            influx.drop_database(db)  # every run starts from an empty database
    return outcome, publisher


def _meter(hub: HubProcess, broker: BenchMosquitto, influx: InfluxDB1) -> CpuMeter:
    assert broker.proc is not None and influx.proc is not None
    return CpuMeter(hub=hub.proc.pid, broker=broker.proc.pid, InfluxDB=influx.proc.pid)


def live_raw(qos: int, msgs: Messages, work: Path, tool: str,
             tag: str) -> tuple[Outcome, Publisher]:
    """mosquitto_sub subscribed first, then the publisher; until mosquitto_sub exits."""
    n = len(msgs)
    with BenchMosquitto(work / f"live-raw-{tag}") as broker:
        out = raw_sink(work)
        proc = _start_raw(broker, qos, n, out)
        try:
            # Mosquitto logs "<client> <qos> <filter>" once the subscription is in place.
            broker.wait_log(rf"\b{RAW_ID} {qos} ss/v1/#$")
            publisher = Publisher(broker, msgs, qos, tool)
        except BaseException:
            proc.kill()
            out.unlink(missing_ok=True)
            raise
        publisher.start()
        outcome = run_raw(proc, out, n, publisher.started, _deadlines(n)[0], publisher)
        publisher.finish()
    return outcome, publisher


def live_hub(qos: int, msgs: Messages, influx: InfluxDB1, work: Path, tool: str,
             tag: str) -> tuple[Outcome, Publisher]:
    """The hub connected and subscribed first, then the publisher; until InfluxDB counts N."""
    n, db = len(msgs), f"live_{tag.replace('-', '_')}"
    influx.create_database(db)
    with BenchMosquitto(work / f"live-hub-{tag}") as broker:
        hub = HubProcess(broker, influx, db, work / f"live-hub-{tag}")
        try:
            hub.wait_for("MQTT subscribed")
            meter = _meter(hub, broker, influx)
            publisher = Publisher(broker, msgs, qos, tool)
            publisher.start()
            outcome = meter.per_message(wait_stored(hub, stored_counter(influx, db), n,
                                                    publisher.started, _deadlines(n)[1],
                                                    publisher))
            publisher.finish()
        finally:
            hub.stop()
            influx.drop_database(db)  # every run starts from an empty database
    return outcome, publisher


def run(method: str, qos: int, msgs: Messages, influx: InfluxDB1, work: Path, tool: str,
        repeat: int) -> Row:
    """Both consumers for one method and QoS, ``repeat`` times, alternating."""
    row = Row(method, qos, len(msgs))
    for rep in range(repeat):
        tag = f"q{qos}-r{rep}"
        if method == "backlog":
            raw = row.raw.add(backlog_raw(qos, msgs, work, tool, tag))
            hub = row.hub.add(backlog_hub(qos, msgs, influx, work, tool, tag))
        else:
            raw = row.raw.add(live_raw(qos, msgs, work, tool, tag))
            hub = row.hub.add(live_hub(qos, msgs, influx, work, tool, tag))
        cpu = ", ".join(f"{name} {us:.1f}" for name, us in hub.cpu_us.items())
        print(f"  {method} qos {qos} run {rep + 1}/{repeat}: raw {_cell(raw.rate, raw.complete)}"
              f" msg/s, hub {_cell(hub.rate, hub.complete)} msg/s (CPU µs per message: {cpu})",
              flush=True)
    return row


def _cell(rate: float, complete: bool) -> str:
    return f"{rate:,.0f}" + ("" if complete else "*")


def report(rows: list[Row]) -> bool:
    """Print the table and its notes; whether every row passed."""
    print()
    print(f"{'method':<8} {'qos':>3} {'N':>8} {'pub msg/s':>10} {'raw msg/s':>10} "
          f"{'hub msg/s':>10} {'ratio':>6} {'target':>6}  result")
    notes = []
    for row in rows:
        pub = min(row.raw.pub_rate, row.hub.pub_rate)
        print(f"{row.method:<8} {row.qos:>3} {row.n:>8,} {pub:>10,.0f} "
              f"{_cell(row.raw.rate, row.raw.complete):>10} "
              f"{_cell(row.hub.rate, row.hub.complete):>10} {row.ratio:>6.2f} "
              f"{TARGETS[row.qos]:>6.2f}  {'pass' if row.passed else 'FAIL'}")
        for name, side in (("raw", row.raw), ("hub", row.hub)):
            where = f"{row.method} qos {row.qos} {name}"
            for i, outcome in enumerate(side.outcomes, start=1):
                if not outcome.complete:
                    notes.append(f"* {where} run {i}: {outcome.delivered:,} of {outcome.n:,} "
                                 f"arrived (no progress for a while, or past the deadline)")
            if row.method == "live" and side.rate >= CEILING * side.pub_rate:
                notes.append(f"! {where}: kept pace with its publisher ({side.rate:,.0f} vs "
                             f"{side.pub_rate:,.0f} msg/s): publishing set this rate, a floor "
                             f"for the consumer")
    for note in notes:
        print(note)
    return all(row.passed for row in rows)


def main() -> None:
    """Parse flags, run each method and QoS, print the table; exit 1 if a row fails."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", choices=("backlog", "live", "both"), default="both")
    parser.add_argument("--qos", type=int, nargs="+", choices=(0, 1), default=[0, 1])
    parser.add_argument("--n", type=int, help="messages per run (default 300k QoS 0, 150k QoS 1)")
    parser.add_argument("--quick", action="store_true",
                        help="small N (60k QoS 0, 30k QoS 1), one run each: a smoke run")
    parser.add_argument("--repeat", type=int, help="runs per row, medians shown (default 3)")
    parser.add_argument("--publisher", choices=("python", "mosquitto_pub"), default="python")
    args = parser.parse_args()
    for tool in ("mosquitto_sub", "mosquitto_pub", "mosquitto", "influxd"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            sys.exit(f"{tool} is not installed")
    methods = ("backlog", "live") if args.method == "both" else (args.method,)
    repeat = args.repeat or (QUICK_REPEAT if args.quick else DEFAULT_REPEAT)
    print(__doc__.split("\n\n")[0])
    print(METHODS)
    print("Machine:", machine())
    print(f"Publisher: {args.publisher}; load average at start "
          f"{os.getloadavg()[0]:.2f} (other work on the machine skews every figure)", flush=True)
    rows = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        with InfluxDB1(work / "influxdb") as influx:
            for qos in args.qos:
                msgs = messages(args.n or (QUICK_N if args.quick else DEFAULT_N)[qos])
                for method in methods:
                    rows.append(run(method, qos, msgs, influx, work, args.publisher, repeat))
    ok = report(rows)
    print(f"Wall time {time.monotonic() - started:.0f} s; load average at end "
          f"{os.getloadavg()[0]:.2f}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
