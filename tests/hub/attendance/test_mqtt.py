"""A tap end to end through the real broker and the hub's ingest, answered on ``resp``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.db.attendance import AttendanceRow, TapRow
from hub.ingest.service import Ingest
from hub.settings import load_settings
from protocol import Tap, topics
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.hub.attendance.conftest import EDGE, MAI_ANH, at
from tests.hub.conftest import Peer, wait_until
from tests.hub.people.samples import SCHOOL


@pytest.fixture
def ingest(mosquitto: Mosquitto, engine: Engine, db_url: str) -> Iterator[Ingest]:
    # The hub's own handler table (hub.services.handlers), so the "tap" registration is tested.
    settings = load_settings(mqtt_url=mosquitto.url, mqtt_client_id="hub-att", db_url=db_url)
    hub = Ingest(settings, engine=engine)
    hub.start()
    assert hub.link.wait_ready(15)
    yield hub
    hub.stop()


def test_a_door_tap_is_answered_on_the_readers_resp_topic_once(
        ingest: Ingest, peer: Peer, engine: Engine) -> None:
    peer.subscribe(topics.resp(SCHOOL, EDGE))
    request = Tap(id=uuid.uuid4(), ts=at("07:12:30"), device="door-1", card=MAI_ANH)
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = topics.resp(SCHOOL, EDGE)
    props.CorrelationData = str(request.id).encode()
    for _ in range(2):  # the edge retried: same id, same answer, one record
        peer.publish(topics.req(SCHOOL, EDGE), request.to_json(), properties=props)
    wait_until(lambda: len(peer.received) >= 2, 15, "two answers")
    answers = [json.loads(m.payload) for m in peer.received]
    assert answers[0] == answers[1]
    assert answers[0]["code"] == "attendance.late" and answers[0]["ok"] is True
    assert answers[0]["msg"] == {"vi": "Đã điểm danh: đi trễ", "en": "Checked in: late"}
    assert answers[0]["data"] == {"student": "HS0001", "name": "Nguyễn Thị Mai Anh",
                                  "class": "10A1", "photo_url": "", "period": 1,
                                  "status": "late"}
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(TapRow)) == 1
        assert session.scalar(select(func.count()).select_from(AttendanceRow)) == 2
