"""Requests through the real broker and database: decided once, answered, replayed on retry.

The handlers here are small real functions registered for the test: the unit under test is the
request sink (group commit, savepoints, the record of answers), not a domain service.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.db.people import ProcessedRequestRow, SchoolRow
from hub.ingest.service import Ingest
from hub.services.requests import Outcome, RequestContext
from hub.settings import load_settings
from protocol import Code, Pay, Tap, now, topics
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.hub.conftest import Peer, wait_until

SCHOOL, EDGE = "thpt-nguyen-du", "cong-chinh"
calls = threading.local()


def count_tap(session: Session, context: RequestContext) -> Outcome:
    """Counts decisions in a real table so a second decision of the same id would show."""
    school = session.get(SchoolRow, SCHOOL)
    assert school is not None
    school.late_grace_min += 1  # a side effect that must happen once per request
    return Outcome(Code.ATTENDANCE_PRESENT, {"n": school.late_grace_min})


def broken_pay(session: Session, context: RequestContext) -> Outcome:
    """A handler with a bug for one card, to show a failing request cannot undo others."""
    session.add(SchoolRow(id=f"s-{context.request.id.hex[:8]}", name="side effect"))
    if context.request.card == "em:0000000BAD":
        raise RuntimeError("bug")
    return Outcome(Code.APPROVED, {"balance": 1000})


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    return sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    with Session(engine) as session, session.begin():
        session.add(SchoolRow(id=SCHOOL, name="THPT Nguyễn Du", late_grace_min=0))
    yield engine
    engine.dispose()


@pytest.fixture
def ingest(mosquitto: Mosquitto, engine: Engine, db_url: str) -> Iterator[Ingest]:
    settings = load_settings(mqtt_url=mosquitto.url, mqtt_client_id="hub-req", db_url=db_url)
    hub = Ingest(settings, engine=engine, handlers={"tap": count_tap, "pay": broken_pay})
    hub.start()
    assert hub.link.wait_ready(15)
    yield hub
    hub.stop()


def request_properties(request_id: uuid.UUID) -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = topics.resp(SCHOOL, EDGE)
    props.CorrelationData = str(request_id).encode()
    return props


def answers(peer: Peer) -> list[dict[str, object]]:
    return [json.loads(m.payload) for m in list(peer.received)]


def test_a_request_is_decided_once_and_a_retry_gets_the_same_answer(
    ingest: Ingest, peer: Peer, engine: Engine
) -> None:
    peer.subscribe(topics.resp(SCHOOL, EDGE))
    tap = Tap(id=uuid.uuid4(), ts=now(), device="door-1", card="nfc:04A1B2C3D4E5F6")
    for _ in range(3):  # the edge retries (lost PUBACK, reconnect...)
        peer.publish(topics.req(SCHOOL, EDGE), tap.to_json(), properties=request_properties(tap.id))
    wait_until(lambda: len(peer.received) >= 3, 15, "three answers")
    replies = answers(peer)
    assert {r["re"] for r in replies} == {str(tap.id)}
    assert all(r == replies[0] for r in replies), "a retry must get the stored answer"
    assert replies[0]["code"] == "attendance.present" and replies[0]["data"] == {"n": 1}
    assert replies[0]["msg"] == {"vi": "Đã điểm danh: có mặt", "en": "Checked in: present"}
    assert peer.received[0].properties.CorrelationData == str(tap.id).encode()
    with Session(engine) as session:
        assert session.get(SchoolRow, SCHOOL).late_grace_min == 1  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(ProcessedRequestRow)) == 1


def test_a_failing_request_does_not_undo_its_batch(ingest: Ingest, peer: Peer,
                                                   engine: Engine) -> None:
    peer.subscribe(topics.resp(SCHOOL, EDGE))
    pays = [Pay(id=uuid.uuid4(), ts=now(), device="till-1", amount=15000,
                card="em:0000000BAD" if i == 5 else "em:0F00A1B2C3") for i in range(10)]
    for pay in pays:
        peer.publish(topics.req(SCHOOL, EDGE), pay.to_json())
    wait_until(lambda: len(peer.received) >= 10, 15, "ten answers")
    codes = {r["re"]: r["code"] for r in answers(peer)}
    assert codes[str(pays[5].id)] == "error.internal"
    assert [codes[str(p.id)] for i, p in enumerate(pays) if i != 5] == ["approved"] * 9
    with Session(engine) as session:
        # The failing request left no side effect and no record; the others all did.
        assert session.scalar(select(func.count()).select_from(SchoolRow)) == 1 + 9
        assert session.scalar(select(func.count()).select_from(ProcessedRequestRow)) == 9


def test_unserved_request_types_are_answered_unavailable(ingest: Ingest, peer: Peer) -> None:
    peer.subscribe(topics.resp(SCHOOL, EDGE))
    body = {"v": 1, "id": str(uuid.uuid4()), "ts": now().isoformat(), "device": "kiosk-1",
            "type": "checkin", "item": "8935235226272"}
    peer.publish(topics.req(SCHOOL, EDGE), json.dumps(body).encode())
    wait_until(lambda: len(peer.received) >= 1, 15, "an answer")
    assert answers(peer)[0]["code"] == "error.unavailable"
    assert answers(peer)[0]["ok"] is False
