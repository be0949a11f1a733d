"""A school offline for the equivalent of a morning: doors and tills keep answering from their
snapshots, and once the link returns the hub holds every tap and every sale exactly once."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db.attendance import TapRow
from hub.db.engine import make_engine
from hub.db.ledger import TransactionRow
from hub.services.ledger import verify_ledger
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.e2e.relay import LinkRelay
from tests.e2e.school import Hub, edge_raw, readers, running_edge, seed_school

STUDENTS = 60


async def test_doors_and_tills_work_through_a_morning_offline(
    mosquitto: Mosquitto, pg_url: str, tmp_path: Path
) -> None:
    school = seed_school(pg_url, students=STUDENTS, balance=200_000)
    hub = Hub(mosquitto.url, pg_url, tmp_path).start_ready()
    relay = await LinkRelay(mosquitto.host, mosquitto.port).up()  # the school's internet
    rng = random.Random(7)
    taps: dict[UUID, str] = {}
    sales: dict[UUID, int] = {}
    codes: Counter[str] = Counter()
    try:
        with readers(tmp_path, "rdm6300", ["door-1", "door-2", "till-1"]):
            doors = edge_raw("lop-10a1", relay.url, hub, tmp_path, [
                {"id": d, "driver": "rdm6300", "role": "door", "port": str(tmp_path / f"tty-{d}")}
                for d in ("door-1", "door-2")])
            canteen = edge_raw("can-tin", relay.url, hub, tmp_path, [
                {"id": "till-1", "driver": "rdm6300", "role": "till",
                 "port": str(tmp_path / "tty-till-1")}])
            async with running_edge(doors) as door_box, running_edge(canteen) as till_box:
                await relay.down()
                async with asyncio.timeout(10):
                    while door_box.link.connected.is_set() or till_box.link.connected.is_set():
                        await asyncio.sleep(0.02)
                # The morning: every student arrives at a door (some twice, some unknown
                # cards), then many buy something at the canteen.
                for index, card in enumerate(school.cards):
                    for door in ("door-1", "door-2") if index % 7 == 0 else ("door-1",):
                        answer = await door_box.cards.present(door, card)
                        codes[answer.code.value] += 1
                        assert answer.offline and answer.request is not None
                        taps[answer.request] = card
                stranger = await door_box.cards.present("door-1", "em:00DEADBEEF")
                assert stranger.code.value == "declined.unknown_card"
                assert stranger.request is not None
                taps[stranger.request] = "em:00DEADBEEF"
                for _ in range(150):
                    till_box.tills["till-1"].set_sale(rng.choice([6_000, 8_000, 15_000, 25_000]))
                    answer = await till_box.cards.present("till-1", rng.choice(school.cards))
                    codes[answer.code.value] += 1
                    if answer.code.value == "approved":
                        assert answer.offline and answer.request is not None
                        sales[answer.request] = answer.data.get("amount", 0)
                # The link returns: the outboxes drain in order.
                await relay.up()
                for box in (door_box, till_box):
                    async with asyncio.timeout(60):
                        while box.outbox.backlog:
                            await asyncio.sleep(0.05)
    finally:
        await relay.down()
        assert hub.terminate() == 0, hub.log()[-3000:]

    print(f"{len(taps)} taps and {len(sales)} sales offline; answers {codes}")
    assert codes["declined.offline_limit"] > 0, "the offline limit should have been reached"
    engine = make_engine(pg_url)
    try:
        with Session(engine) as session:
            stored_taps = Counter(session.scalars(select(TapRow.id)))
            purchases = Counter(session.scalars(
                select(TransactionRow.reference).where(TransactionRow.kind == "purchase")))
            offline = set(session.scalars(select(TransactionRow.reference)
                                          .where(TransactionRow.offline.is_(True))))
            assert verify_ledger(session) == []
    finally:
        engine.dispose()
    assert {UUID(t) for t in stored_taps} == set(taps) and max(stored_taps.values()) == 1
    assert {f"req:{rid}" for rid in sales} == set(purchases) == offline
    assert max(purchases.values()) == 1
