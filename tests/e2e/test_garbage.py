"""Garbage everywhere at once: noisy serial lines, hostile payloads on every topic, a 1 MB message.

Nothing crashes, the counters show every bad thing, and the good data around it all arrives.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from firmware_sim import make_simulator
from protocol import Telemetry, decode_as, now, topics
from protocol.messages import Heartbeat
from smartschool_cli.localservers.base import free_port
from smartschool_cli.localservers.influxdb import InfluxDB1
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.e2e.procs import Child, edge_process, outbox_state, wait_until, write_toml

SCHOOL, EDGE, ATTACKER = "thpt-le-quy-don", "lab-ly", "lab-hoa"

BAD_PAYLOADS = [
    b"{not json",
    b"",
    b"\xff\xfe\x00\x01",
    b"[1, 2, 3]",
    b'{"v": 1, "id": "x", "ts": "yesterday", "seq": "one", "values": {"co2_ppm": "high"}}',
    b'{"v": 99}',
    json.dumps({"v": 1, "id": str(uuid.uuid4()), "ts": "2026-11-23T07:00:00+07:00",
                "device": "till-1", "type": "pay", "card": "em:XYZ", "amount": -5}).encode(),
    b"{" + b'"a":' * 20000 + b"1",
    b"x" * (1024 * 1024),
]
KINDS = [
    topics.status(SCHOOL, ATTACKER),
    topics.heartbeat(SCHOOL, ATTACKER),
    topics.telemetry(SCHOOL, ATTACKER, "co2-9"),
    topics.event(SCHOOL, ATTACKER, "board-1"),
    topics.req(SCHOOL, ATTACKER),
    topics.cmd_ack(SCHOOL, ATTACKER),
]
BAD_TOPICS = ["ss/v1/BAD SCHOOL/x/status", "ss/v1/a/b/nonsense", "ss/v1/a/b/telemetry/Bad_Id"]


def metric_total(text: str, name: str) -> float:
    """The sum of every sample of ``name`` in a Prometheus text exposition."""
    return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def good_reading(seq: int) -> bytes:
    return Telemetry(id="co2-9", ts=now(), seq=seq, values={"co2_ppm": 700.0 + seq}).to_json()


def test_garbage_is_counted_and_good_data_gets_through(
    mosquitto: Mosquitto, influx_db: tuple[InfluxDB1, str], tmp_path: Path
) -> None:
    influx, db = influx_db
    http = free_port()
    hub = Child(
        "hub",
        [sys.executable, "-m", "hub"],
        tmp_path,
        {"SS_MQTT_URL": mosquitto.url, "SS_MQTT_CLIENT_ID": "hub-garbage",
         "SS_DB_URL": f"sqlite:///{tmp_path / 'hub.db'}", "SS_INFLUX_URL": influx.url,
         "SS_INFLUX_DB": db, "SS_HTTP_PORT": str(http)},
    )
    base = f"http://127.0.0.1:{http}"
    outbox = tmp_path / "outbox.sqlite"
    # Sensors on noisy lines: random bytes between frames, and corrupted checksums.
    co2 = make_simulator("mhz19", tmp_path / "ttyCO2", seed=3, co2_ppm=1250, temp_c=29)
    pm = make_simulator("pms5003", tmp_path / "ttyPM", seed=4, pm=(9.0, 18.0, 30.0), period_s=0.05)
    co2.set_faults(garbage=0.3, bad_checksum=0.2)
    pm.set_faults(garbage=0.3, bad_checksum=0.2)
    config = write_toml(tmp_path / "edge.toml", {
        "school": SCHOOL, "edge": EDGE, "room": "Phòng thí nghiệm Lý", "heartbeat_s": 0.5,
        "mqtt": {"url": mosquitto.url, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5},
        "outbox": {"path": str(outbox)},
        "devices": [
            {"id": "co2-1", "driver": "mhz19", "port": str(tmp_path / "ttyCO2"), "interval_s": 0.05},
            {"id": "pm-1", "driver": "pms5003", "port": str(tmp_path / "ttyPM"), "interval_s": 0.05},
        ],
    })
    edge = edge_process(config, tmp_path)

    heartbeats: list[Heartbeat] = []
    attacker = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="attacker", protocol=mqtt.MQTTv5)
    attacker.on_message = lambda c, u, m: heartbeats.append(decode_as(Heartbeat, m.payload))
    attacker.connect(mosquitto.host, mosquitto.port)
    attacker.loop_start()
    attacker.subscribe(topics.heartbeat(SCHOOL, EDGE), qos=0)

    with co2, pm:
        try:
            hub.start()
            wait_until(lambda: _get(f"{base}/healthz") == 200, 60, "the hub's /healthz")
            edge.start()
            good, bad = 0, 0
            for _round in range(3):
                for topic in KINDS:
                    for payload in BAD_PAYLOADS:
                        attacker.publish(topic, payload, qos=1).wait_for_publish(10)
                        bad += 1
                        good += 1
                        attacker.publish(topics.telemetry(SCHOOL, ATTACKER, "co2-9"),
                                         good_reading(good), qos=1).wait_for_publish(10)
                for topic in BAD_TOPICS:
                    attacker.publish(topic, b'{"v": 1}', qos=1).wait_for_publish(10)
                    bad += 1

            wait_until(lambda: influx.count(db, "unknown", "co2_ppm") >= good, 60,
                       f"the {good} good readings among the garbage")
            metrics = httpx.get(f"{base}/metrics").text
            assert metric_total(metrics, "hub_bad_messages_total") >= bad
            assert 'reason="too_large"' in metrics
            assert hub.alive() and _get(f"{base}/healthz") == 200

            # The noisy sensors still deliver, and the technicians see the line noise.
            wait_until(lambda: outbox_state(outbox)[1] >= 50, 30, "50 readings from noisy lines")
            wait_until(lambda: any(sum(h.errors for h in b.devices.values()) > 0
                                   for b in heartbeats), 30, "bad frames in the heartbeat")
            # A clean stop ends production; the restarted agent drains what is left.
            co2.set_faults(silence=True)
            pm.set_faults(silence=True)
            assert edge.terminate() == 0, edge.log()[-3000:]
            produced = outbox_state(outbox)[1]
            edge.start()
            wait_until(lambda: outbox_state(outbox)[0] == 0, 30, "the outbox to drain")
            stored = lambda: (influx.count(db, "co2", "seq")  # noqa: E731
                              + influx.count(db, "pm", "seq"))
            wait_until(lambda: stored() >= produced, 30, f"all {produced} sensor readings")
            assert stored() == produced
            assert hub.terminate() == 0, hub.log()[-3000:]
            assert co2.frames_corrupted > 0 and pm.frames_corrupted > 0
            assert co2.garbage_bytes_sent > 0 and pm.garbage_bytes_sent > 0
        finally:
            attacker.loop_stop()
            attacker.disconnect()
            for child in (edge, hub):
                if child.alive():
                    child.terminate()
    assert "Traceback" not in hub.log(), hub.log()[-3000:]
    assert "Traceback" not in edge.log(), edge.log()[-3000:]


def _get(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return 0



