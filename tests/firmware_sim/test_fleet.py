"""The fleet simulator: its plan (pure), and its traffic on a real Mosquitto as a subscriber
sees it: one client per box with its birth and Last Will, and every message in the contract."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from firmware_sim.fleet import FleetOptions
from firmware_sim.fleet_plan import AREAS, PILOT_SCHOOLS, plan_fleet
from hub.db.engine import make_engine
from hub.db.people import CardRow, SchoolRow
from hub.web.areas import load_area_map
from protocol import EdgeState, Status, topics
from protocol.decode import decode
from protocol.messages import Pay, Tap
from protocol.topics import TopicKind
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.e2e.procs import ROOT, wait_until


def test_200_edges_make_40_schools_over_every_former_district() -> None:
    plan = plan_fleet(200)
    assert len(plan) == 40
    assert [len(s.edges) for s in plan] == [5] * 40
    assert [(s.id, s.name, s.area) for s in plan[:len(PILOT_SCHOOLS)]] == PILOT_SCHOOLS
    assert {s.area for s in plan} == {name for _, name in AREAS}
    # Every school's area is a tile of the map the city wall ships, none lands in "other".
    area_map = load_area_map()
    assert {area_map.tile_of(s.area) for s in plan} == {slug for slug, _ in AREAS}
    assert len({s.id for s in plan}) == 40
    boxes = [(e.school, e.edge) for s in plan for e in s.edges]
    assert len(set(boxes)) == 200
    for school, edge in boxes:
        topics.check_ident(school, "school")
        topics.check_ident(edge, "edge")
    cards = [st.card for s in plan for st in s.students]
    assert len(cards) == len(set(cards)) == 40 * 40
    tap = decode(TopicKind.REQ, json.dumps({
        "v": 1, "type": "tap", "id": "00000000-0000-4000-8000-000000000000",
        "ts": "2026-11-23T07:00:00+07:00", "device": "door-1", "card": cards[-1]}).encode())
    assert isinstance(tap, Tap) and tap.card == "em:F027000027"
    canteens = [e for s in plan for e in s.edges if e.is_canteen]
    assert len(canteens) == 40 and all(e.reader == "till-1" for e in canteens)


def test_edges_are_shared_out_evenly_and_odd_sizes_work() -> None:
    plan = plan_fleet(7, schools=3, students_per_school=4)
    assert [len(s.edges) for s in plan] == [3, 2, 2]
    assert plan_fleet(1)[0].edges[0].is_canteen is False  # a lone box is a classroom
    with pytest.raises(ValueError, match="at least one edge"):
        plan_fleet(0)
    with pytest.raises(ValueError, match="schools must be between"):
        plan_fleet(3, schools=4)
    with pytest.raises(ValueError, match="mqtt_url"):
        FleetOptions(mqtt_url="http://broker")
    with pytest.raises(ValueError, match="telemetry_s"):
        FleetOptions(telemetry_s=0)


class Listener:
    """A paho MQTT 5 subscriber to everything under ss/v1/, keeping what it decodes."""

    def __init__(self, broker: Mosquitto) -> None:
        self.lock = threading.Lock()
        self.births: dict[tuple[str, str], list[Status]] = defaultdict(list)
        self.wills: dict[tuple[str, str], list[Status]] = defaultdict(list)
        self.kinds: Counter[tuple[str, str, str]] = Counter()
        self.requests: list[tuple[Any, Any]] = []
        self.errors: list[str] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fleet-listener",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.subscribe("ss/v1/#", qos=1)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = topics.parse(msg.topic)
            message = decode(topic.kind, bytes(msg.payload))
        except Exception as error:  # noqa: BLE001 - a test collects every fault to report it
            with self.lock:
                self.errors.append(f"{msg.topic}: {error}")
            return
        key = (topic.school, topic.edge)
        with self.lock:
            if topic.kind is TopicKind.STATUS:
                book = self.births if message.state is EdgeState.ONLINE else self.wills
                book[key].append(message)
            elif topic.kind is TopicKind.REQ:
                self.requests.append((message, msg.properties))
            self.kinds[(topic.school, topic.edge, f"{topic.kind.value}/{topic.device or ''}")] += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_fleet_boxes_speak_the_contract_and_leave_their_wills(mosquitto: Mosquitto,
                                                              tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'hub.db'}"
    listener = Listener(mosquitto)
    fleet = subprocess.Popen(
        [sys.executable, "-m", "smartschool_cli.main", "sim", "fleet", "--edges", "6",
         "--mqtt-url", mosquitto.url, "--telemetry-s", "0.3", "--heartbeat-s", "0.5",
         "--taps-per-s", "8", "--pays-per-s", "4", "--seed-db", db_url],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        boxes = {(e.school, e.edge) for s in plan_fleet(6) for e in s.edges}

        def every_box_talks() -> bool:
            with listener.lock:
                seen = {(school, edge) for school, edge, kind in listener.kinds
                        if kind in ("telemetry/co2-1", "heartbeat/")}
                pays = [r for r, _ in listener.requests if isinstance(r, Pay)]
                return seen == boxes and len(listener.requests) >= 6 and bool(pays)

        wait_until(every_box_talks, 30, "births, telemetry, heartbeats, taps and payments")
        with listener.lock:
            assert listener.errors == []
            assert set(listener.births) == boxes
            # One birth each: every box has a client id of its own (a shared one would be
            # thrown off and reconnect, with a new birth each time).
            assert all(len(b) == 1 for b in listener.births.values()), listener.births
            assert all(b[0].session for b in listener.births.values())
            for school, edge in boxes:
                assert listener.kinds[(school, edge, "telemetry/pm-1")] > 0
            for request, props in listener.requests:
                assert props.ResponseTopic.endswith("/resp")
                assert props.CorrelationData == str(request.id).encode()
        fleet.send_signal(signal.SIGKILL)  # no goodbye: the broker must send each box's Will
        fleet.wait(10)
        wait_until(lambda: set(listener.wills) == boxes, 15, "every box's Last Will")
        with listener.lock:
            for key, wills in listener.wills.items():
                assert wills[-1].session == listener.births[key][0].session
    finally:
        if fleet.poll() is None:
            fleet.kill()
            fleet.wait(10)
        listener.close()
    output = fleet.stdout.read() if fleet.stdout else ""
    assert "Traceback" not in output, output
    assert "2 schools and 80 students with wallets" in output, output
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(CardRow)) == 80
            names = {row.id: row.area for row in session.execute(select(SchoolRow.id, SchoolRow.area))}
    finally:
        engine.dispose()
    assert names == {"thpt-le-hong-phong": "Quận 5", "thpt-tran-dai-nghia": "Quận 1"}
