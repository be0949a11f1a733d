"""The hub keeps cards, timetables and school rules between batches of taps: whatever is changed
through the API is in effect from the next tap on, through the real broker, hub and database."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from hub.app import create_app
from hub.auth import Role
from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.db.people import CardRow, ClassRow, SchoolRow, StudentRow
from hub.settings import load_settings
from protocol import Tap, topics
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.hub.attendance.conftest import EDGE, MAI_ANH, at, tap
from tests.hub.conftest import Peer, serve, wait_until
from tests.hub.people.samples import SCHOOL, SCHOOL_NAME

NEW_CARD = "em:0F00A1B2E7"


@pytest.fixture
def hub(mosquitto: Mosquitto, engine: Engine, db_url: str) -> Iterator[tuple[httpx.Client, FastAPI]]:
    """The hub app (API and ingest) on the seeded database."""
    app = create_app(load_settings(mqtt_url=mosquitto.url, db_url=db_url,
                                   mqtt_client_id="hub-roster", jwt_secret="x" * 40))
    with serve(app) as client:
        yield client, app


class Door:
    """The door reader of 10A1: taps through the broker and waits for each answer."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        peer.subscribe(topics.resp(SCHOOL, EDGE))

    def tap(self, card: str, clock: str) -> dict[str, object]:
        request = Tap(id=uuid.uuid4(), ts=at(clock), device="door-1", card=card)
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = topics.resp(SCHOOL, EDGE)
        props.CorrelationData = str(request.id).encode()
        self.peer.publish(topics.req(SCHOOL, EDGE), request.to_json(), properties=props)

        def answer() -> dict[str, object] | None:
            for message in list(self.peer.received):
                body = json.loads(message.payload)
                if body["re"] == str(request.id):
                    return body  # type: ignore[no-any-return]
            return None

        wait_until(answer, 15, f"the answer to {card} at {clock}")
        found = answer()
        assert found is not None
        return found


def test_card_and_rule_changes_through_the_api_apply_to_the_next_tap(
        hub: tuple[httpx.Client, FastAPI], peer: Peer) -> None:
    client, app = hub
    staff = {"Authorization": "Bearer " + app.state.tokens.issue("staff-1", Role.STAFF,
                                                                  school=SCHOOL)}
    admin = {"Authorization": "Bearer " + app.state.tokens.issue("admin-1", Role.ADMIN)}
    door = Door(peer)
    assert door.tap(MAI_ANH, "07:03")["code"] == "attendance.present"

    client.post(f"/api/v1/schools/{SCHOOL}/cards/{MAI_ANH}/block", headers=staff,
                json={"reason": "Mất thẻ", "status": "lost"}).raise_for_status()
    assert door.tap(MAI_ANH, "07:55")["code"] == "declined.card_blocked"
    client.post(f"/api/v1/schools/{SCHOOL}/cards/{MAI_ANH}/unblock",
                headers=staff).raise_for_status()
    assert door.tap(MAI_ANH, "08:45")["code"] == "attendance.present"

    # A card the hub has seen as unknown is known once issued.
    assert door.tap(NEW_CARD, "08:41")["code"] == "declined.unknown_card"
    client.post(f"/api/v1/schools/{SCHOOL}/students/HS0002/cards", headers=staff,
                json={"card": NEW_CARD}).raise_for_status()
    issued = door.tap(NEW_CARD, "08:42")
    assert issued["code"] == "attendance.present" and issued["data"]["student"] == "HS0002"

    # No period after 09:25: 55 minutes after her last tap, the 300 s window has passed...
    assert door.tap(MAI_ANH, "09:40")["code"] == "attendance.present"
    client.put(f"/api/v1/schools/{SCHOOL}", headers=admin, json={
        "name": SCHOOL_NAME, "duplicate_window_s": 3600}).raise_for_status()
    # ...and once the window is an hour, a tap 20 minutes later is a duplicate.
    assert door.tap(MAI_ANH, "10:00")["code"] == "attendance.duplicate"


@pytest.fixture
def unversioned(db_url: str) -> Iterator[Engine]:
    """A school whose roster was written straight to the database (no roster version)."""
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    with Session(engine) as session, session.begin():
        session.add(SchoolRow(id=SCHOOL, name=SCHOOL_NAME))
        session.flush()
        klass = ClassRow(school=SCHOOL, name="10A1")
        session.add(klass)
        session.flush()
        session.add(StudentRow(school=SCHOOL, code="HS0001", full_name="Nguyễn Thị Mai Anh",
                               class_id=klass.id))
    yield engine
    engine.dispose()


def test_a_school_without_a_roster_version_is_read_afresh(unversioned: Engine) -> None:
    assert tap(unversioned, MAI_ANH, at("07:03")).code.value == "declined.unknown_card"
    with Session(unversioned) as session, session.begin():
        student = session.query(StudentRow).one()
        session.add(CardRow(card=MAI_ANH, student_id=student.id))
    assert tap(unversioned, MAI_ANH, at("07:04")).code.value == "attendance.present"
