"""Fixtures of the attendance tests: THPT Chuyên Trần Đại Nghĩa with its students, cards and
Monday timetable (45-minute periods from 07:00, 5-minute breaks), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.db.people import CARD_BLOCKED, CardRow, SchoolRow, StudentRow
from hub.services.attendance import handle_tap
from hub.services.people import import_file
from hub.services.requests import Outcome, RequestContext
from protocol import Tap
from tests.hub.people.samples import SCHOOL, SCHOOL_NAME, STUDENTS_CSV, TIMETABLE_CSV

EDGE = "lop-10a1"
MAI_ANH, BAO, PHUC, LOST = "em:0F00A1B2C3", "nfc:04A1B2C3D4E5F6", "nfc:04A1B2C3", "em:0F00A1B2FF"


def at(clock: str, day: str = "2026-11-23") -> datetime:
    """A moment of Monday 23/11/2026 in Ho Chi Minh City."""
    return datetime.fromisoformat(f"{day}T{clock}+07:00")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Each test runs on SQLite and on PostgreSQL."""
    return sqlite_url if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


def seed(engine: Engine, webhook: str | None = None) -> None:
    """The school, its students and cards (one lost), the Monday timetable."""
    from hub.services.people.manage import put_school

    with Session(engine) as session, session.begin():
        put_school(session, SCHOOL, name=SCHOOL_NAME, area="Quận 1", late_grace_min=10,
                   duplicate_window_s=300, webhook_url=webhook)
    assert import_file(engine, SCHOOL, "students", STUDENTS_CSV, "hs.csv").created == 4
    assert import_file(engine, SCHOOL, "timetable", TIMETABLE_CSV, "tkb.csv").created == 5
    with Session(engine) as session, session.begin():
        mai_anh = session.scalar(select(StudentRow).where(StudentRow.code == "HS0001"))
        assert mai_anh is not None
        session.add(CardRow(card=LOST, student_id=mai_anh.id, status=CARD_BLOCKED))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated, seeded database."""
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    seed(engine)
    yield engine
    engine.dispose()


def tap(engine: Engine, card: str, when: datetime, device: str = "door-1") -> Outcome:
    """Decide one tap the way the request sink does: in a transaction, then commit."""
    request = Tap(id=uuid.uuid4(), ts=when, device=device, card=card)
    with Session(engine) as session, session.begin():
        assert session.get(SchoolRow, SCHOOL) is not None
        return handle_tap(session, RequestContext(SCHOOL, EDGE, request, datetime.now().astimezone()))
