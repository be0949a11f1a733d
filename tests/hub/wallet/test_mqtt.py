"""Payments end to end: a till's MQTT 5 requests → Mosquitto → hub ingest → database → answers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.db.ledger import TransactionRow
from hub.ingest.service import Ingest
from hub.services.ledger import verify_ledger
from hub.services.wallet import handle_pay
from hub.settings import load_settings
from protocol import Pay, topics
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.hub.conftest import Peer, wait_until
from tests.hub.wallet.conftest import (
    BANH_MI,
    BAO,
    COM_TAM,
    EDGE,
    MAI_ANH,
    SCHOOL,
    People,
    pay_request,
)


@pytest.fixture
def ingest(mosquitto: Mosquitto, engine: Engine, db_url: str, people: People) -> Iterator[Ingest]:
    settings = load_settings(mqtt_url=mosquitto.url, mqtt_client_id="hub-pay", db_url=db_url)
    hub = Ingest(settings, engine=engine, handlers={"pay": handle_pay})
    hub.start()
    assert hub.link.wait_ready(15)
    yield hub
    hub.stop()


def send(peer: Peer, pay: Pay) -> None:
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = topics.resp(SCHOOL, EDGE)
    props.CorrelationData = str(pay.id).encode()
    peer.publish(topics.req(SCHOOL, EDGE), pay.to_json(), properties=props)


def test_a_lunch_queue_is_answered_and_recorded_once(ingest: Ingest, peer: Peer,
                                                     engine: Engine) -> None:
    peer.subscribe(topics.resp(SCHOOL, EDGE))
    # Bảo (60.000 đ, limit 40.000 đ/day) and Mai Anh (100.000 đ) buy lunch; one retry.
    pays = [pay_request(BAO, COM_TAM), pay_request(BAO, BANH_MI), pay_request(BAO, BANH_MI),
            pay_request(MAI_ANH, COM_TAM), pay_request(MAI_ANH, 80_000),
            pay_request(BAO, COM_TAM, offline=True)]
    for pay in pays:
        send(peer, pay)
    send(peer, pays[0])  # the till lost the PUBACK and sends again
    wait_until(lambda: len(peer.received) >= len(pays) + 1, 15, "every answer")
    replies = [json.loads(m.payload) for m in peer.received]
    by_id = {r["re"]: r for r in replies}
    codes = [by_id[str(p.id)]["code"] for p in pays]
    assert codes == ["approved", "approved", "declined.daily_limit", "approved",
                     "declined.insufficient_funds", "approved"]
    assert by_id[str(pays[0].id)]["data"] == {"balance": 35_000, "amount": COM_TAM,
                                              "name": "Trần Quốc Bảo"}
    assert by_id[str(pays[2].id)]["msg"]["vi"] == "Vượt hạn mức chi tiêu trong ngày"
    assert by_id[str(pays[5].id)]["data"]["balance"] == -5_000
    assert by_id[str(pays[5].id)]["data"]["flagged"] is True
    assert [r for r in replies if r["re"] == str(pays[0].id)] == [by_id[str(pays[0].id)]] * 2
    assert {m.properties.CorrelationData for m in peer.received} == {
        str(p.id).encode() for p in pays}
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(TransactionRow).where(
            TransactionRow.kind == "purchase")) == 4
        assert verify_ledger(session) == []
