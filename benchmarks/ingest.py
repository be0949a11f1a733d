"""End-to-end ingest rate of one hub process against Mosquitto's raw delivery rate.

Usage: ``python benchmarks/ingest.py [--qos 0 1] [--n N] [--quick]``

Method (the same for both sides, and printed with the results): a backlog of N telemetry
messages (valid ``protocol.Telemetry`` payloads of ~125 bytes from 10 edges x 5 devices, every
one with its own ``ts`` and ``seq``, so nothing collapses in InfluxDB) is queued in a private
Mosquitto for an offline persistent session, then the consumer connects and takes it all:

1. raw: ``mosquitto_sub -c -i bench-raw -q Q`` registers its session and leaves; the backlog is
   published (``mosquitto_pub -l``, one process per topic, under 50,000 lines each because its
   message id wraps at 65,535 at QoS 1); then ``mosquitto_sub -c -i bench-raw -q Q -C N`` is
   timed from its start until it exits after the N-th message.
2. hub: the hub's session (its client id, its two subscriptions) is registered the same way,
   the same backlog is published, then ``python -m hub.ingest.runner`` is started as a separate
   process (SS_* settings); the clock starts when it logs that it is connected (after Python's
   start-up and the database migration, which are not ingest) and stops when InfluxDB's count
   reaches N (polled every 0.25 s; the end is interpolated between the last two polls).

The broker is Mosquitto with the test suite's config plus ``queue_qos0_messages true`` (so QoS 0
waits for an offline session as QoS 1 does) and persistence off (its once-a-second snapshot of a
large queue would weigh on both sides alike and measures nothing of ours). Broker, consumer and
InfluxDB (fsync on every write) share the machine's cores. A fresh broker is used per QoS.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from protocol import decode, topics
from protocol.topics import TopicKind
from smartschool_cli.localservers.influxdb import InfluxDB1
from smartschool_cli.localservers.mosquitto import Mosquitto

SCHOOL = "thpt-le-hong-phong"
EDGES, DEVICES = 10, 5
T0 = datetime.fromisoformat("2026-11-20T07:30:00+07:00")
TARGETS = {0: 0.5, 1: 0.7}
DEFAULT_N = {0: 200_000, 1: 100_000}
QUICK_N = {0: 40_000, 1: 20_000}
POLL_S = 0.25
HUB_ID = "bench-hub"
RAW_ID = "bench-raw"
PUB_CHUNK = 50_000
ROOT = Path(__file__).resolve().parent.parent


class BenchMosquitto(Mosquitto):
    """The test broker's config, with QoS 0 queued for offline sessions and no snapshots."""

    def config_text(self) -> str:
        """Same listener and limits; ``queue_qos0_messages`` on, persistence off."""
        lines = [line for line in super().config_text().splitlines()
                 if not line.startswith(("persistence", "autosave"))]
        lines += ["queue_qos0_messages true", "persistence false"]
        return "\n".join(lines) + "\n"


def backlog(n: int) -> dict[str, list[str]]:
    """N payloads (one JSON line each), grouped by topic; message i has ts T0 + i ms, seq i."""
    by_topic: dict[str, list[str]] = {}
    for i in range(n):
        edge, device = f"edge-{i % EDGES:02d}", f"env-{(i // EDGES) % DEVICES}"
        topic = topics.telemetry(SCHOOL, edge, device)
        ts = (T0 + timedelta(milliseconds=i)).isoformat(timespec="microseconds")
        payload = (f'{{"v":1,"id":"{device}","ts":"{ts}","seq":{i},"values":'
                   f'{{"co2_ppm":{400 + i % 1600}.5,"temp_c":{20 + i % 15}.25,'
                   f'"rh_pct":{40 + i % 50}.5}}}}')
        by_topic.setdefault(topic, []).append(payload)
    sample = next(iter(by_topic.values()))[0].encode()
    decode(TopicKind.TELEMETRY, sample)  # the payloads must be ones the hub accepts
    return by_topic


def publish(broker: Mosquitto, by_topic: dict[str, list[str]], qos: int) -> None:
    """Queue the backlog with ``mosquitto_pub -l``, a few processes at a time."""
    def one(topic: str, lines: list[str]) -> None:
        for start in range(0, len(lines), PUB_CHUNK):
            body = ("\n".join(lines[start:start + PUB_CHUNK]) + "\n").encode()
            subprocess.run(["mosquitto_pub", "-h", broker.host, "-p", str(broker.port),
                            "-q", str(qos), "-t", topic, "-l"],
                           input=body, check=True, timeout=300)

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(one, t, lines) for t, lines in by_topic.items()]:
            future.result()


def register_raw(broker: Mosquitto, qos: int) -> None:
    """Create the raw subscriber's persistent session and leave."""
    subprocess.run(["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-c",
                    "-i", RAW_ID, "-q", str(qos), "-t", "ss/v1/#", "-E"],
                   check=True, timeout=30, stdout=subprocess.DEVNULL)


def time_raw(broker: Mosquitto, qos: int, n: int, deadline_s: float) -> float:
    """Seconds ``mosquitto_sub`` takes to receive the N queued messages and exit."""
    started = time.monotonic()
    proc = subprocess.run(["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-c",
                           "-i", RAW_ID, "-q", str(qos), "-t", "ss/v1/#", "-C", str(n)],
                          stdout=subprocess.DEVNULL, timeout=deadline_s)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"mosquitto_sub exited with {proc.returncode}")
    return elapsed


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


def time_hub(broker: Mosquitto, influx: InfluxDB1, db: str, work: Path, n: int,
             deadline_s: float) -> float:
    """Seconds from the hub's connection until InfluxDB counts the N points."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SS_")}
    env |= {"SS_MQTT_URL": broker.url, "SS_MQTT_CLIENT_ID": HUB_ID,
            "SS_DB_URL": f"sqlite:///{work / 'hub.db'}", "SS_INFLUX_URL": influx.url,
            "SS_INFLUX_DB": db, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "hub.ingest.runner"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    connected = threading.Event()
    started = [0.0]
    log_tail: list[str] = []

    def read_log() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            log_tail[:] = (log_tail + [line.rstrip()])[-20:]
            if not connected.is_set() and "MQTT connected" in line:
                started[0] = time.monotonic()
                connected.set()

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    try:
        if not connected.wait(60):
            raise RuntimeError("hub did not connect:\n" + "\n".join(log_tail))
        deadline = started[0] + deadline_s
        last_t, last_c = started[0], 0
        while True:
            time.sleep(POLL_S)
            now, count = time.monotonic(), influx.count(db, "unknown", "co2_ppm")
            if count >= n:
                # The N-th point landed between the two polls: interpolate, polls are coarse.
                share = (n - last_c) / max(count - last_c, 1)
                return last_t + share * (now - last_t) - started[0]
            if proc.poll() is not None:
                raise RuntimeError("hub exited:\n" + "\n".join(log_tail))
            if now > deadline:
                raise RuntimeError(f"hub stored {count} of {n} in {deadline_s:.0f} s")
            last_t, last_c = now, count
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        reader.join(5)


def run_qos(qos: int, n: int, influx: InfluxDB1, work: Path) -> tuple[float, float]:
    """(raw msg/s, hub msg/s) for one QoS on a fresh broker."""
    by_topic = backlog(n)
    with BenchMosquitto(work / f"mosquitto-q{qos}") as broker:
        register_raw(broker, qos)
        publish(broker, by_topic, qos)
        raw = n / time_raw(broker, qos, n, deadline_s=max(60.0, n / 2000))
        db = f"bench_q{qos}"
        influx.create_database(db)
        register_hub(broker)
        publish(broker, by_topic, qos)
        hub = n / time_hub(broker, influx, db, work / f"hub-q{qos}", n,
                           deadline_s=max(60.0, n / 1000))
    return raw, hub


def machine() -> str:
    """Cores, CPU model, Mosquitto and InfluxDB versions."""
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mosq = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True).stdout
    mosq_version = re.search(r"version (\S+)", mosq)
    influx = subprocess.run(["influxd", "version"], capture_output=True, text=True).stdout.strip()
    return (f"nproc {os.cpu_count()}, CPU {model}, Python {platform.python_version()}, "
            f"Mosquitto {mosq_version.group(1) if mosq_version else '?'}, {influx}")


def main() -> None:
    """Parse flags, run each QoS, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--qos", type=int, nargs="+", choices=(0, 1), default=[0, 1])
    parser.add_argument("--n", type=int, help="messages per run (default 200k QoS 0, 100k QoS 1)")
    parser.add_argument("--quick", action="store_true", help="small N, for a smoke run")
    args = parser.parse_args()
    for tool in ("mosquitto_sub", "mosquitto_pub", "mosquitto", "influxd"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            sys.exit(f"{tool} is not installed")
    print(__doc__.split("Usage:")[0].strip())
    print("Method: backlog of N messages queued for an offline persistent session; raw = "
          "mosquitto_sub -c -C N from start to exit; hub = python -m hub.ingest.runner from "
          "its connection until InfluxDB counts N.")
    print("Machine:", machine())
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        with InfluxDB1(work / "influxdb") as influx:
            for qos in args.qos:
                n = args.n or (QUICK_N if args.quick else DEFAULT_N)[qos]
                raw, hub = run_qos(qos, n, influx, work)
                rows.append((qos, n, raw, hub))
                print(f"  qos {qos}: raw {raw:,.0f} msg/s, hub {hub:,.0f} msg/s", flush=True)
    print()
    print(f"{'qos':>3} {'N':>8} {'raw msg/s':>10} {'hub msg/s':>10} {'ratio':>6} "
          f"{'target':>6}  result")
    failed = False
    for qos, n, raw, hub in rows:
        ratio = hub / raw
        ok = ratio >= TARGETS[qos]
        failed |= not ok
        print(f"{qos:>3} {n:>8,} {raw:>10,.0f} {hub:>10,.0f} {ratio:>6.2f} "
              f"{TARGETS[qos]:>6.2f}  {'pass' if ok else 'FAIL'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
