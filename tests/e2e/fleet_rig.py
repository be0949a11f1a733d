"""The city wall's lag under a fleet, measured from outside: a real broker, the hub as a process,
``smartschool sim fleet`` as a process, a probe box and a client of the wall's SSE stream.

The probe is one more edge box (its own school) whose CO2 sensor reports marked values: probe
``i`` reads ``probe_value(i)``, unique per probe and over the 1500 ppm limit, so the wall lists
the probe's school among those needing attention with its highest CO2. The watcher reads
``/api/v1/live/city/stream`` as the wall does and notes when that figure first shows each value;
lag = that moment minus the moment the probe published it.
Probes go one at a time (the next after the last was seen or given up on), so none hides another.
The hub's CPU is ``process_cpu_seconds_total`` from its ``/metrics``, over the probing.

Shared by ``tests/e2e/test_fleet_lag.py`` and ``benchmarks/fleet_lag.py``.
"""

from __future__ import annotations

import json
import math
import re
import signal
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.orm import Session

from firmware_sim.fleet_plan import plan_fleet
from hub.db.engine import make_engine
from hub.services.people.manage import put_school
from protocol import DeviceInfo, EdgeState, Status, Telemetry, topics
from smartschool_cli.fleet_seed import seed_fleet
from tests.e2e.procs import Child, wait_until
from tests.e2e.school import WALL_HEADERS, Hub

PROBE_SCHOOL, PROBE_EDGE, PROBE_DEVICE = "do-tre-tuong", "probe", "co2-probe"
PROBE_NAME, PROBE_AREA = "Đầu dò độ trễ của tường", "Quận 1"
#: A probe not seen after this long counts as lost (its lag is at least this).
GIVE_UP_S = 5.0


def probe_value(i: int) -> int:
    """Probe ``i``'s CO2 reading: unique, and over the 1500 ppm limit."""
    return 1600 + i


@dataclass
class LagReport:
    """What one measurement found."""

    edges: int
    lags_s: list[float]
    lost: int
    hub_cpu_pct: float
    fleet_cpu_pct: float
    broker_cpu_pct: float
    seconds: float
    messages_in: dict[str, float] = field(default_factory=dict)

    def quantile(self, q: float) -> float:
        """The ``q`` quantile of the lags (nearest rank); inf when a probe was lost."""
        if self.lost or not self.lags_s:
            return math.inf
        ordered = sorted(self.lags_s)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]

    def lines(self) -> list[str]:
        """The figures, for a console."""
        rates = ", ".join(f"{kind} {n / self.seconds:.0f}/s"
                          for kind, n in sorted(self.messages_in.items()) if n)
        return [
            f"edges {self.edges}, probes {len(self.lags_s) + self.lost} over {self.seconds:.1f} s"
            f" (lost {self.lost})",
            f"wall lag: p50 {self.quantile(0.5):.3f} s, p95 {self.quantile(0.95):.3f} s, "
            f"max {max(self.lags_s, default=math.inf):.3f} s, "
            f"mean {statistics.fmean(self.lags_s) if self.lags_s else math.inf:.3f} s",
            f"CPU, % of one core: hub {self.hub_cpu_pct:.1f}, fleet {self.fleet_cpu_pct:.1f}, "
            f"broker {self.broker_cpu_pct:.1f}",
            f"hub intake: {rates or 'none'}",
        ]


def metrics_of(hub_url: str) -> dict[str, float]:
    """The hub's Prometheus samples by name with labels, e.g. ``hub_messages_in_total{kind=...}``."""
    text = httpx.get(f"{hub_url}/metrics", timeout=10).text
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def intake(samples: dict[str, float]) -> dict[str, float]:
    """Messages taken by kind."""
    found = (re.fullmatch(r'hub_messages_in_total\{kind="([a-z/]+)"\}', name)
             for name in samples)
    return {m.group(1): samples[m.group(0)] for m in found if m}


class CityWatcher:
    """Reads the city wall's SSE stream in a thread; remembers when each CO2 value showed."""

    def __init__(self, hub_url: str, school: str) -> None:
        self.url = f"{hub_url}/api/v1/live/city/stream"
        self.school = school
        self.seen: dict[float, float] = {}  # co2_max_ppm -> first time.time() it showed
        self.last: dict[str, Any] | None = None
        self.events = 0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="city-watcher", daemon=True)

    def start(self) -> CityWatcher:
        """Connect and read until ``stop``."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop reading (the stream's read ends within its keep-alive time)."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with httpx.stream("GET", self.url, timeout=httpx.Timeout(30.0),
                                  headers=WALL_HEADERS) as response:
                    for line in response.iter_lines():
                        if self._stop.is_set():
                            return
                        if line.startswith("data: "):
                            self._take(json.loads(line[6:]), time.time())
            except httpx.HTTPError:
                # The hub restarts or the stream rotates: read it again, unless told to stop.
                self._stop.wait(0.2)

    def _take(self, city: dict[str, Any], at: float) -> None:
        row = next((s for s in city["attention"] if s["school"] == self.school), None)
        with self._changed:
            self.last, self.events = city, self.events + 1
            if row is not None and row["co2_max_ppm"] is not None:
                self.seen.setdefault(float(row["co2_max_ppm"]), at)
            self._changed.notify_all()

    def wait_for(self, value: float, timeout: float) -> float | None:
        """When ``value`` first showed, waiting up to ``timeout`` for it; None if it did not."""
        with self._changed:
            self._changed.wait_for(lambda: value in self.seen, timeout)
            return self.seen.get(value)

    def stopped(self, timeout: float) -> bool:
        """Wait until ``stop`` is called or ``timeout`` passes; whether it was called."""
        return self._stop.wait(timeout)

    def wait_until(self, check: Any, timeout: float) -> dict[str, Any] | None:
        """The first city event for which ``check(city)`` holds, within ``timeout``."""
        with self._changed:
            ok = self._changed.wait_for(lambda: self.last is not None and check(self.last),
                                        timeout)
            return self.last if ok else None


class Probe:
    """The marked box: a paho MQTT 5 client with a birth, publishing one reading per probe."""

    def __init__(self, broker_url: str) -> None:
        host, port = broker_url.removeprefix("mqtt://").split(":")
        self.seq = 0
        self.session = uuid.uuid4().hex
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="probe-lag",
                                  protocol=mqtt.MQTTv5)
        status = topics.status(PROBE_SCHOOL, PROBE_EDGE)
        self.client.will_set(status, self._status(EdgeState.OFFLINE), qos=1, retain=True)
        self.client.connect(host, int(port))
        self.client.loop_start()
        self.client.publish(status, self._status(EdgeState.ONLINE), qos=1, retain=True)

    def _status(self, state: EdgeState) -> bytes:
        devices = (DeviceInfo(id=PROBE_DEVICE, kind="co2", model="probe", room="Đầu dò"),)
        return Status(ts=datetime.now(UTC), state=state, fw="probe",
                      devices=devices if state is EdgeState.ONLINE else (),
                      session=self.session).to_json()

    def send(self, value: int) -> float:
        """Publish one reading (QoS 0, as telemetry goes); return when it left."""
        self.seq += 1
        payload = Telemetry(id=PROBE_DEVICE, ts=datetime.now(UTC), seq=self.seq,
                            values={"co2_ppm": value}).to_json()
        sent = time.time()
        self.client.publish(topics.telemetry(PROBE_SCHOOL, PROBE_EDGE, PROBE_DEVICE), payload, 0)
        return sent

    def close(self) -> None:
        """Say offline and disconnect."""
        self.client.publish(topics.status(PROBE_SCHOOL, PROBE_EDGE),
                            self._status(EdgeState.OFFLINE), qos=1, retain=True).wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()


def seed(db_url: str, edges: int) -> None:
    """The fleet's schools, students and wallets (as ``sim fleet --seed-db`` puts them), and the
    probe's school, in the hub's database."""
    seed_fleet(db_url, plan_fleet(edges))
    engine = make_engine(db_url)
    try:
        with Session(engine) as session, session.begin():
            put_school(session, PROBE_SCHOOL, name=PROBE_NAME, area=PROBE_AREA)
    finally:
        engine.dispose()


def fleet_process(broker_url: str, edges: int, log_dir: Path, *, taps_per_s: float,
                  pays_per_s: float, telemetry_s: float) -> Child:
    """``smartschool sim fleet`` as a child process (not started)."""
    argv = [sys.executable, "-m", "smartschool_cli.main", "sim", "fleet", "--edges", str(edges),
            "--mqtt-url", broker_url, "--taps-per-s", str(taps_per_s),
            "--pays-per-s", str(pays_per_s), "--telemetry-s", str(telemetry_s)]
    return Child("fleet", argv, log_dir, {"COLUMNS": "200"})


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def measure_lag(hub: Hub, fleet: Child, broker_pid: int, broker_url: str, edges: int,
                probes: int, interval_s: float = 1.0) -> LagReport:
    """With the fleet running, send ``probes`` marked readings ``interval_s`` apart and time
    each one's arrival on the wall's stream; CPU of hub, fleet and broker over the probing."""
    watcher = CityWatcher(hub.url, PROBE_SCHOOL).start()
    probe = Probe(broker_url)
    try:
        # The probe's birth is on the wall and every box of the fleet is online.
        city = watcher.wait_until(
            lambda c: c["totals"]["edges_online"] == edges + 1, 60)
        assert city is not None, f"the wall never showed {edges + 1} edges online: " \
            f"{watcher.last['totals'] if watcher.last else 'no event'}"
        assert hub.proc is not None and fleet.proc is not None
        before = metrics_of(hub.url)
        fleet_cpu, broker_cpu = cpu_seconds(fleet.proc.pid), cpu_seconds(broker_pid)
        started = time.monotonic()
        lags, lost = [], 0
        for i in range(probes):
            sent = probe.send(probe_value(i))
            seen = watcher.wait_for(float(probe_value(i)), GIVE_UP_S)
            if seen is None:
                lost += 1
            else:
                lags.append(seen - sent)
            # The next probe at the probes' pace (a stopped watcher has no wall to time on).
            if watcher.stopped(sent + interval_s - time.time()):
                break
        seconds = time.monotonic() - started
        after = metrics_of(hub.url)
        cpu = after["process_cpu_seconds_total"] - before["process_cpu_seconds_total"]
        taken = {kind: n - intake(before).get(kind, 0.0) for kind, n in intake(after).items()}
        return LagReport(
            edges=edges, lags_s=lags, lost=lost, hub_cpu_pct=100 * cpu / seconds,
            fleet_cpu_pct=100 * (cpu_seconds(fleet.proc.pid) - fleet_cpu) / seconds,
            broker_cpu_pct=100 * (cpu_seconds(broker_pid) - broker_cpu) / seconds,
            seconds=seconds, messages_in=taken)
    finally:
        probe.close()
        watcher.stop()


def stop_fleet(fleet: Child, hub: Hub, timeout: float = 30) -> int:
    """Ctrl-C the fleet; wait for it to exit and for the wall to show its boxes offline."""
    assert fleet.proc is not None
    fleet.proc.send_signal(signal.SIGINT)
    code = fleet.proc.wait(timeout)

    def all_offline() -> bool:
        city = httpx.get(f"{hub.url}/api/v1/live/city", timeout=10, headers=WALL_HEADERS).json()
        return bool(city["totals"]["edges_online"] == 0)

    wait_until(all_offline, 10, "every box of the fleet offline on the wall")
    return code
