"""A card from the reader's bytes to the answer on the screen, through every real piece:
simulated readers on pseudo-terminals -> drivers -> edge agent -> Mosquitto -> hub ->
PostgreSQL or SQLite -> the answer back on the edge's screen."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from edge_agent.app import EdgeAgent
from hub.db.attendance import AttendanceRow
from hub.db.engine import make_engine
from hub.db.ledger import TransactionRow
from hub.services.ledger import verify_ledger
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.e2e.school import Hub, edge_raw, readers, running_edge, seed_school


@pytest.fixture(params=["postgres", "sqlite"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    return str(request.getfixturevalue("pg_url")) if request.param == "postgres" else sqlite_url


async def shown(agent: EdgeAgent, device: str, count: int) -> dict[str, object]:
    """The answer on ``device``'s screen once it has shown ``count`` answers in all."""
    async with asyncio.timeout(20):
        while agent.board.shown < count or device not in agent.board.last:
            await asyncio.sleep(0.02)
    return agent.board.last[device].to_dict()


async def test_door_and_till_answers_come_back_to_the_screen(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path
) -> None:
    school = seed_school(db_url, students=4)
    hub = Hub(mosquitto.url, db_url, tmp_path).start_ready()
    try:
        with readers(tmp_path, "rdm6300", ["door-1", "till-1"]) as sims:
            raw = edge_raw("lop-10a1", mosquitto.url, hub, tmp_path, [
                {"id": "door-1", "driver": "rdm6300", "role": "door",
                 "port": str(tmp_path / "tty-door-1"), "rearm_s": 0.3},
                {"id": "till-1", "driver": "rdm6300", "role": "till",
                 "port": str(tmp_path / "tty-till-1"), "rearm_s": 0.3},
            ])
            async with running_edge(raw) as agent:
                mai_anh = school.cards[0].removeprefix("em:")
                sims["door-1"].present(mai_anh)
                door = await shown(agent, "door-1", 1)
                sims["door-1"].remove()
                assert door["code"] in ("attendance.present", "attendance.late"), door
                assert door["offline"] is False
                assert door["data"]["name"] == "Nguyễn Thị Mai Anh"  # type: ignore[index]

                agent.tills["till-1"].set_sale(25_000, [{"sku": "com-tam", "price": 25_000}])
                sims["till-1"].present(mai_anh)
                till = await shown(agent, "till-1", 2)
                sims["till-1"].remove()
                assert till["code"] == "approved", till
                assert till["data"]["balance"] == school.balance - 25_000  # type: ignore[index]

                # A card the school does not know is refused at the door, not crashed on.
                sims["door-1"].present("00DEADBEEF")
                unknown = await shown(agent, "door-1", 3)
                assert unknown["code"] == "declined.unknown_card"
    finally:
        assert hub.terminate() == 0, hub.log()[-3000:]
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(AttendanceRow)) >= 1
            purchases = session.scalar(select(func.count()).select_from(TransactionRow)
                                       .where(TransactionRow.kind == "purchase"))
            assert purchases == 1
            assert verify_ledger(session) == []
    finally:
        engine.dispose()
