"""A seeded school for end-to-end card tests, made through the hub's own importer and ledger."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from edge_agent.app import EdgeAgent
from edge_agent.settings import parse_config
from hub.auth import Role, TokenSigner
from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.db.people import StudentRow
from hub.services.ledger import top_up
from hub.services.people import import_file
from hub.services.people.manage import put_school
from smartschool_cli.localservers.base import free_port
from tests.e2e.procs import Child, wait_until

SCHOOL = "thpt-tran-dai-nghia"
SECRET = "e2e-secret-" + "x" * 32
#: A live-wall display's token, and its header for the live JSON and streams.
WALL_TOKEN = TokenSigner(SECRET).issue("noc-wall", Role.WALL)
WALL_HEADERS = {"Authorization": f"Bearer {WALL_TOKEN}"}
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng"]
GIVEN = ["Thị Mai Anh", "Quốc Bảo", "Minh Châu", "Gia Huy", "Ngọc Hân", "Đức Khang",
         "Thu Trang", "Hoàng Long", "Khánh Linh", "Tuấn Kiệt"]


def card_of(index: int) -> str:
    """The EM4100 card of student ``index``."""
    return f"em:0F{index:08X}"


@dataclass(frozen=True, slots=True)
class School:
    """What a test needs to know of the seeded school."""

    db_url: str
    cards: list[str]
    balance: int


def seed_school(db_url: str, students: int = 40, balance: int = 100_000) -> School:
    """THPT Chuyên Trần Đại Nghĩa: classes 10A1 and 11C3, ``students`` with a card and a
    topped-up wallet each, and no timetable (every tap counts as an arrival)."""
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    try:
        with Session(engine) as session, session.begin():
            put_school(session, SCHOOL, name="THPT Chuyên Trần Đại Nghĩa", area="Quận 1",
                       offline_limit=60_000)
        rows = ["Mã HS,Họ và tên,Lớp,Mã thẻ"] + [
            f"HS{i:04d},{FAMILY[i % 10]} {GIVEN[(i // 10) % 10]},{'10A1' if i % 2 else '11C3'},"
            f"{card_of(i)}" for i in range(students)]
        report = import_file(engine, SCHOOL, "students", "\n".join(rows).encode(), "hs.csv")
        assert report.created == students, report
        with Session(engine) as session, session.begin():
            for student in session.scalars(select(StudentRow).where(StudentRow.school == SCHOOL)):
                top_up(session, school=SCHOOL, student_id=student.id, amount=balance,
                       channel="cash", reference=f"seed:{student.code}", created_by="test")
    finally:
        engine.dispose()
    return School(db_url, [card_of(i) for i in range(students)], balance)


class Hub(Child):
    """The full hub (``python -m hub``) as a child process, on PostgreSQL or SQLite."""

    def __init__(self, broker_url: str, db_url: str, log_dir: Path) -> None:
        import sys

        self.port = free_port()
        super().__init__("hub", [sys.executable, "-m", "hub"], log_dir, {
            "SS_MQTT_URL": broker_url, "SS_MQTT_CLIENT_ID": "hub-e2e", "SS_MQTT_SHARED": "false",
            "SS_DB_URL": db_url, "SS_HTTP_PORT": str(self.port), "SS_JWT_SECRET": SECRET,
        })

    def wall_login(self, page: str = "wall") -> str:
        """The URL that signs a browser in as a wall display, then shows ``page``."""
        return f"{self.url}/wall/login?token={WALL_TOKEN}&next={page}"

    @property
    def url(self) -> str:
        """The hub's HTTP base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start_ready(self) -> Hub:
        """Start and wait until its subscription is in place (its session exists)."""
        subscribed = self.log().count("MQTT subscribed")
        self.start()
        wait_until(lambda: self.log().count("MQTT subscribed") > subscribed, 60,
                   "the hub's subscription")
        return self


def edge_raw(edge: str, broker_url: str, hub: Hub, tmp_path: Path,
             devices: list[dict[str, Any]]) -> dict[str, Any]:
    """The config of an edge box with card readers talking to ``hub``."""
    token = TokenSigner(SECRET).issue(edge, Role.EDGE, school=SCHOOL)
    return {
        "school": SCHOOL, "edge": edge, "room": edge, "heartbeat_s": 3600,
        "mqtt": {"url": broker_url, "reconnect_min_s": 0.05, "reconnect_max_s": 0.5,
                 "keepalive": 10, "publish_timeout_s": 10},
        "outbox": {"path": str(tmp_path / edge / "outbox.sqlite")},
        "hub": {"url": hub.url, "token": token, "snapshot_every_s": 1, "answer_timeout_s": 2},
        "screen": {"enabled": False},
        "devices": devices,
    }


@contextlib.asynccontextmanager
async def running_edge(raw: dict[str, Any]) -> AsyncIterator[EdgeAgent]:
    """An edge agent in this event loop, with its snapshots fetched once."""
    Path(raw["outbox"]["path"]).parent.mkdir(parents=True, exist_ok=True)
    async with EdgeAgent(parse_config(raw, raw["edge"])) as agent:
        async with asyncio.timeout(30):
            while agent.snapshots.status()["roster"]["version"] is None:
                await asyncio.sleep(0.05)
        yield agent


@contextlib.contextmanager
def readers(tmp_path: Path, family: str, names: list[str]) -> Iterator[dict[str, Any]]:
    """Card reader simulators on pseudo-terminals, by device name."""
    from firmware_sim import make_simulator

    sims = {name: make_simulator(family, tmp_path / f"tty-{name}") for name in names}
    for sim in sims.values():
        sim.start()
    try:
        yield sims
    finally:
        for sim in sims.values():
            sim.stop()
