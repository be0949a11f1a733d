"""Malformed messages are counted and acknowledged; good ones around them still arrive."""

from __future__ import annotations

import json
import re
import uuid

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.app import create_app
from hub.settings import load_settings
from protocol import topics
from smartschool_cli.localservers.influxdb import InfluxDB1
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.hub.conftest import Peer, reading, serve, wait_until

SCHOOL, EDGE = "thcs-tan-binh", "gate-1"


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_malformed_payloads_on_every_topic_kind_are_counted_and_skipped(
    mosquitto: Mosquitto, influx_db: tuple[InfluxDB1, str], sqlite_url: str
) -> None:
    server, db = influx_db
    settings = load_settings(mqtt_url=mosquitto.url, db_url=sqlite_url, influx_url=server.url,
                             influx_db=db, batch_wait_ms=10)
    app = create_app(settings)
    with serve(app) as http, Peer(mosquitto).connect() as edge:
        edge.subscribe(topics.resp(SCHOOL, EDGE))
        telemetry = topics.telemetry(SCHOOL, EDGE, "env-1")
        bad: list[tuple[str, bytes]] = [
            (telemetry, b"{not json"),
            (telemetry, json.dumps({"v": 1, "id": "env-1", "ts": "2026-11-20T07:00:00+07:00",
                                    "seq": "7", "values": {"co2_ppm": 1}}).encode()),
            (telemetry, b"[" * 1_000_000),  # 1 MB
            (topics.status(SCHOOL, EDGE), b'{"v": 1, "ts": 5, "state": "online"}'),
            (topics.heartbeat(SCHOOL, EDGE), b'{"v": 1, "ts": "yesterday", "uptime_s": -1}'),
            (topics.event(SCHOOL, EDGE, "door-1"), b"\xff\xfe"),
            (topics.cmd_ack(SCHOOL, EDGE), b"{}"),
            (f"ss/v1/{SCHOOL}/{EDGE}/bogus", b"{}"),
            (f"ss/v1/Bad_School/{EDGE}/status", b"{}"),
        ]
        for seq, (topic, payload) in enumerate(bad):
            edge.publish(telemetry, reading(seq, device="env-1").to_json())
            edge.publish(topic, payload)
        edge.publish(telemetry, reading(len(bad), device="env-1").to_json())

        request_id = uuid.uuid4()
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = topics.resp(SCHOOL, EDGE)
        props.CorrelationData = request_id.bytes
        edge.publish(topics.req(SCHOOL, EDGE),
                     json.dumps({"v": 1, "id": str(request_id), "type": "pay", "amount": "lots"}
                                ).encode(), properties=props)
        edge.publish(topics.req(SCHOOL, EDGE), b'{"type": "tap", "card": 12}')  # no id: no answer

        wait_until(lambda: server.count(db, "unknown", "co2_ppm") == len(bad) + 1,
                   what="every good reading")
        wait_until(lambda: edge.received, what="the error.bad_request answer")
        answer = edge.received[0]
        body = json.loads(answer.payload)
        assert body["re"] == str(request_id) and body["code"] == "error.bad_request"
        assert body["ok"] is False and body["msg"]["vi"] and body["msg"]["en"]
        assert answer.properties.CorrelationData == request_id.bytes

        def counted() -> str:
            return http.get("/metrics").text

        wait_until(lambda: _metric(counted(), "hub_bad_messages_total", kind="req") == 2,
                   what="bad requests counted")
        text = counted()
        assert _metric(text, "hub_bad_messages_total", kind="telemetry", reason="payload") == 2
        assert _metric(text, "hub_bad_messages_total", kind="telemetry", reason="too_large") == 1
        for kind in ("status", "heartbeat", "event", "cmd/ack"):
            assert _metric(text, "hub_bad_messages_total", kind=kind, reason="payload") == 1, kind
        assert _metric(text, "hub_bad_messages_total", kind="unknown", reason="topic") == 2
        assert _metric(text, "hub_bad_requests_answered_total") == 1
        # InfluxDB shows a batch a moment before the hub has read its answer.
        wait_until(lambda: _metric(counted(), "hub_points_written_total") == len(bad) + 1,
                   what="points counted")
        text = counted()
        assert re.search(r"^hub_influx_write_seconds_count [1-9]", text, re.M)
        assert len(edge.received) == 1  # the request without an id got no answer
        health = http.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"mqtt": True, "influx": "ok", "db": "ok"}


def test_healthz_is_503_while_the_broker_is_down(mosquitto: Mosquitto, sqlite_url: str) -> None:
    app = create_app(load_settings(mqtt_url=mosquitto.url, db_url=sqlite_url))
    with serve(app) as http:
        wait_until(lambda: http.get("/healthz").status_code == 200, what="healthy")
        assert http.get("/healthz").json()["influx"] == "none"
        mosquitto.stop()
        wait_until(lambda: http.get("/healthz").status_code == 503, what="unhealthy")
        assert http.get("/healthz").json()["mqtt"] is False
        mosquitto.start()
        wait_until(lambda: http.get("/healthz").status_code == 200, 30, what="healthy again")
