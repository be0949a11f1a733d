"""The moving parts of ``benchmarks/ingest.py``: broker, messages, consumers and their clocks."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
from _publish import Publisher
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.ingest.lineproto import timestamp_ns
from protocol import decode, topics
from protocol.topics import TopicKind
from smartschool_cli.localservers.influxdb import InfluxDB1
from smartschool_cli.localservers.mosquitto import Mosquitto, mosquitto_binary

SCHOOL = "thpt-le-hong-phong"
EDGES, DEVICES = 10, 5
T0 = datetime.fromisoformat("2026-11-20T07:30:00+07:00")
POLL_S = 0.25
IDLE_S = 15.0  # no progress for this long once everything is published: the rest is lost
HUB_ID, RAW_ID = "bench-hub", "bench-raw"
ROOT = Path(__file__).resolve().parent.parent


class BenchMosquitto(Mosquitto):
    """The test broker's config; QoS 0 queued for offline sessions, no snapshots, own log file."""

    def config_text(self) -> str:
        """Same listener and limits; ``queue_qos0_messages`` on, persistence off."""
        lines = [line for line in super().config_text().splitlines()
                 if not line.startswith(("persistence", "autosave"))]
        # The stdout log is block-buffered when it is a file; this one is flushed per line.
        lines += ["queue_qos0_messages true", "persistence false", "log_type subscribe",
                  f"log_dest file {self.events_path}"]
        return "\n".join(lines) + "\n"

    @property
    def events_path(self) -> Path:
        """The broker's own log file: connections and subscriptions, one line each."""
        return self.data_dir / "events.log"

    def wait_log(self, pattern: str, timeout: float = 30.0) -> None:
        """Block until a line of the broker's log matches ``pattern`` (a regex)."""
        deadline = time.monotonic() + timeout
        while not (self.events_path.exists() and
                   re.search(pattern, self.events_path.read_text(errors="replace"), re.M)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"broker log never matched {pattern!r}:\n{self.tail_log()}")
            time.sleep(0.02)


def messages(n: int) -> list[tuple[str, str]]:
    """N (topic, payload) pairs from 10 edges x 5 devices; message i has ts T0 + i ms, seq i."""
    out = []
    for i in range(n):
        edge, device = f"edge-{i % EDGES:02d}", f"env-{(i // EDGES) % DEVICES}"
        ts = (T0 + timedelta(milliseconds=i)).isoformat(timespec="microseconds")
        out.append((topics.telemetry(SCHOOL, edge, device),
                    f'{{"v":1,"id":"{device}","ts":"{ts}","seq":{i},"values":'
                    f'{{"co2_ppm":{400 + i % 1600}.5,"temp_c":{20 + i % 15}.25,'
                    f'"rh_pct":{40 + i % 50}.5}}}}'))
    decode(TopicKind.TELEMETRY, out[0][1].encode())  # the payloads must be ones the hub accepts
    return out


@dataclass(frozen=True)
class Outcome:
    """What a consumer got: ``delivered`` of ``n`` messages in ``seconds``."""

    n: int
    delivered: int
    seconds: float
    #: CPU microseconds per delivered message, by process (hub runs only).
    cpu_us: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def rate(self) -> float:
        """Messages per second over what arrived."""
        return self.delivered / self.seconds if self.seconds > 0 else 0.0

    @property
    def complete(self) -> bool:
        """Whether all N arrived."""
        return self.delivered >= self.n


class CpuMeter:
    """CPU seconds (user + system) that each named process used since the meter started."""

    def __init__(self, **pids: int) -> None:
        self._procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._start = self._read()

    def _read(self) -> dict[str, float]:
        seconds = {}
        for name, proc in self._procs.items():
            try:
                times = proc.cpu_times()
                seconds[name] = times.user + times.system
            except psutil.Error:  # it exited: no figure
                seconds[name] = float("nan")
        return seconds

    def per_message(self, outcome: Outcome) -> Outcome:
        """``outcome`` with the microseconds of CPU per delivered message since the start."""
        now, n = self._read(), max(outcome.delivered, 1)
        return replace(outcome, cpu_us={name: 1e6 * (now[name] - self._start[name]) / n
                                        for name in now})


def _idle(last_change: float, publisher: Publisher | None, now: float) -> bool:
    """No progress for IDLE_S since the later of the last change and the end of publishing."""
    if publisher is not None and publisher.is_alive():
        return False
    return now - last_change > IDLE_S


def raw_command(broker: Mosquitto, qos: int, n: int) -> list[str]:
    """``mosquitto_sub`` on the raw subscriber's persistent session, exiting after N messages."""
    return ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-c", "-i", RAW_ID,
            "-q", str(qos), "-t", "ss/v1/#", "-C", str(n)]


def register_raw(broker: Mosquitto, qos: int) -> None:
    """Create the raw subscriber's persistent session and leave."""
    subprocess.run(raw_command(broker, qos, 1)[:-2] + ["-E"], check=True, timeout=30,
                   stdout=subprocess.DEVNULL)


def raw_sink(work: Path) -> Path:
    """Where mosquitto_sub writes: tmpfs when there is one (measured as cheap as /dev/null)."""
    shm = Path("/dev/shm")
    return (shm if shm.is_dir() else work) / f"bench-raw-{os.getpid()}.out"


def run_raw(proc: subprocess.Popen[bytes], out: Path, n: int, t0: float, deadline_s: float,
            publisher: Publisher | None = None) -> Outcome:
    """Wait for ``mosquitto_sub -C N`` to exit (clock ends then); if it stalls, count its lines."""
    exited = [0.0]
    waiter = threading.Thread(target=lambda: (proc.wait(), exited.__setitem__(0, time.monotonic())),
                              daemon=True)
    waiter.start()
    size, last_change = -1, t0
    try:
        while True:
            waiter.join(POLL_S)
            if exited[0]:
                if proc.returncode != 0:
                    raise RuntimeError(f"mosquitto_sub exited with {proc.returncode}")
                return Outcome(n, n, exited[0] - t0)
            now = time.monotonic()
            if out.stat().st_size != size:
                size, last_change = out.stat().st_size, now
            if _idle(last_change, publisher, now) or now - t0 > deadline_s:
                proc.kill()
                proc.wait(10)
                with out.open("rb") as f:
                    got = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
                return Outcome(n, got, last_change - t0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        out.unlink(missing_ok=True)


def register_hub(broker: Mosquitto) -> None:
    """Create the hub's persistent session: its client id and both of its subscriptions."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=HUB_ID, protocol=mqtt.MQTTv5)
    acked = threading.Semaphore(0)
    client.on_subscribe = lambda *args: acked.release()
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.connect(broker.host, broker.port, clean_start=False, properties=props)
    client.loop_start()
    try:
        for sub_id, topic in enumerate((topics.HUB_SHARED_SUBSCRIPTION,
                                        topics.HUB_STATUS_SUBSCRIPTION), start=1):
            sub = Properties(PacketTypes.SUBSCRIBE)
            sub.SubscriptionIdentifier = sub_id
            client.subscribe(topic, qos=1, properties=sub)
            if not acked.acquire(timeout=10):
                raise RuntimeError("no SUBACK for the hub's session")
    finally:
        client.disconnect()
        client.loop_stop()


#: Hub settings a run may take from the environment.
TUNING_SETTINGS = frozenset({"SS_BATCH_SIZE", "SS_BATCH_WAIT_MS", "SS_RECEIVE_MAXIMUM",
                             "SS_WRITE_CONCURRENCY"})


class HubProcess:
    """``python -m hub.ingest.runner`` with SS_* settings; remembers when its log said what."""

    def __init__(self, broker: Mosquitto, influx: InfluxDB1, db: str, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        # The hub's ingest tuning may be set for a run (SS_BATCH_SIZE=... python ingest.py);
        # every other SS_ setting is the bench's own.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SS_") or k in TUNING_SETTINGS}
        env |= {"SS_MQTT_URL": broker.url, "SS_MQTT_CLIENT_ID": HUB_ID,
                "SS_DB_URL": f"sqlite:///{work / 'hub.db'}", "SS_INFLUX_URL": influx.url,
                "SS_INFLUX_DB": db, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, "-m", "hub.ingest.runner"], cwd=ROOT,
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.seen: dict[str, float] = {}
        self.tail: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()

    def _read_log(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            now = time.monotonic()
            with self._changed:
                self.tail[:] = (self.tail + [line.rstrip()])[-20:]
                for marker in ("MQTT connected", "MQTT subscribed"):
                    if marker in line and marker not in self.seen:
                        self.seen[marker] = now
                self._changed.notify_all()

    def wait_for(self, marker: str, timeout: float = 60) -> float:
        """When the log first showed ``marker`` (waits for it)."""
        with self._changed:
            if not self._changed.wait_for(lambda: marker in self.seen or self.proc.poll()
                                          is not None, timeout) or marker not in self.seen:
                raise RuntimeError(f"hub never logged {marker!r}:\n" + "\n".join(self.tail))
            return self.seen[marker]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop in 20 s."""
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(5)


#: Once the end is near, the tail is counted this often (cheap: a few thousand points).
FINE_S = 0.02
#: The tail starts this many messages before the full count so far: batches land nearly, not
#: exactly, in order (two are written at once).
TAIL_MARGIN = 20_000


def stored_counter(influx: InfluxDB1, db: str) -> Callable[[int], int]:
    """How many of the bench's messages from index ``i`` on InfluxDB holds (by their times)."""
    def count(since: int) -> int:
        since_ns = None if since <= 0 else timestamp_ns(T0 + timedelta(milliseconds=since))
        return influx.count(db, "unknown", "co2_ppm", since_ns)
    return count


def wait_stored(hub: HubProcess, count: Callable[[int], int], n: int, t0: float,
                deadline_s: float, publisher: Publisher | None = None) -> Outcome:
    """Poll the stored count until N; the end to within FINE_S.

    A full count costs InfluxDB ~20 ms of CPU at 150k points, so it runs every POLL_S. When the
    rate says N falls before the next full count, only the tail is counted, every FINE_S, until
    it is complete; a full count then confirms N (else the coarse polls go on). The clock stops
    when the tail count that saw it complete returned: never earlier than the truth.
    """
    last_t, last_c, last_change = t0, 0, t0
    while True:
        time.sleep(POLL_S)
        now, got = time.monotonic(), count(0)
        if got >= n:
            return Outcome(n, n, time.monotonic() - t0)
        if hub.proc.poll() is not None:
            raise RuntimeError("hub exited:\n" + "\n".join(hub.tail))
        if got != last_c:
            last_change = now
        if _idle(last_change, publisher, now) or now - t0 > deadline_s:
            return Outcome(n, got, last_change - t0)
        rate = (got - last_c) / (now - last_t)
        if got + rate * POLL_S >= n:
            end = _tail_complete(count, n, max(0, got - TAIL_MARGIN), now + 2 * POLL_S)
            if end is not None and count(0) >= n:
                return Outcome(n, n, end - t0)
        last_t, last_c = now, got


def _tail_complete(count: Callable[[int], int], n: int, since: int,
                   until: float) -> float | None:
    """When messages ``since``..N-1 were all seen stored, polling until ``until``; else None."""
    while time.monotonic() < until:
        if count(since) >= n - since:
            return time.monotonic()
        time.sleep(FINE_S)
    return None


def machine() -> str:
    """Cores, CPU model, Python, Mosquitto and InfluxDB versions."""
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mosq = subprocess.run([mosquitto_binary() or "mosquitto", "-h"], capture_output=True,
                          text=True).stdout
    mosq_version = re.search(r"version (\S+)", mosq)
    influx = subprocess.run(["influxd", "version"], capture_output=True, text=True).stdout.strip()
    return (f"nproc {os.cpu_count()}, CPU {model}, Python {platform.python_version()}, "
            f"Mosquitto {mosq_version.group(1) if mosq_version else '?'}, {influx}")
