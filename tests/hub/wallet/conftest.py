"""Fixtures of the wallet tests: a school with its canteen, two students, their cards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.db.people import CARD_BLOCKED, CardRow, ClassRow, SchoolRow, StudentRow
from hub.services.ledger import top_up
from hub.services.requests import Outcome, RequestContext
from hub.services.wallet import handle_pay
from protocol import Pay

SCHOOL, EDGE, TILL = "thpt-le-quy-don", "can-tin", "till-1"
MAI_ANH, BAO, BLOCKED = "em:0F00A1B2C3", "nfc:04A1B2C3D4E5F6", "em:0F00A1B2FF"
BANH_MI, COM_TAM = 15_000, 25_000
#: Lunch on a Friday in Ho Chi Minh City.
LUNCH = datetime.fromisoformat("2026-11-20T11:30:00+07:00")


@dataclass(frozen=True)
class People:
    """Ids of the seeded students."""

    mai_anh: int
    bao: int


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Each wallet test runs on SQLite and on PostgreSQL."""
    return sqlite_url if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


def seed(engine: Engine) -> People:
    """THPT Lê Quý Đôn, class 10A1, Mai Anh (100.000 đ) and Bảo (60.000 đ, limit 40.000 đ)."""
    with Session(engine) as session, session.begin():
        session.add(SchoolRow(id=SCHOOL, name="THPT Lê Quý Đôn", area="Quận 3"))
        session.flush()
        klass = ClassRow(school=SCHOOL, name="10A1", room="A101")
        session.add(klass)
        session.flush()
        mai_anh = StudentRow(school=SCHOOL, code="HS0001", full_name="Nguyễn Thị Mai Anh",
                             class_id=klass.id)
        bao = StudentRow(school=SCHOOL, code="HS0002", full_name="Trần Quốc Bảo",
                         class_id=klass.id, daily_limit=40_000)
        session.add_all([mai_anh, bao])
        session.flush()
        session.add_all([CardRow(card=MAI_ANH, student_id=mai_anh.id),
                         CardRow(card=BAO, student_id=bao.id),
                         CardRow(card=BLOCKED, student_id=bao.id, status=CARD_BLOCKED)])
        session.flush()
        top_up(session, school=SCHOOL, student_id=mai_anh.id, amount=100_000, channel="cash",
               reference="cash:PT-0001", created_by="staff:van-phong")
        top_up(session, school=SCHOOL, student_id=bao.id, amount=60_000, channel="cash",
               reference="cash:PT-0002", created_by="staff:van-phong")
        return People(mai_anh.id, bao.id)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated database."""
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def people(engine: Engine) -> People:
    """The seeded school."""
    return seed(engine)


def pay_request(card: str, amount: int, ts: datetime = LUNCH, offline: bool = False,
                request_id: uuid.UUID | None = None) -> Pay:
    """A till's ``pay`` request."""
    return Pay(id=request_id or uuid.uuid4(), ts=ts, device=TILL, card=card, amount=amount,
               offline=offline)


def decide(engine: Engine, pay: Pay, school: str = SCHOOL) -> Outcome:
    """Decide one request in its own transaction, as a request batch would."""
    with Session(engine) as session, session.begin():
        return handle_pay(session, RequestContext(school, EDGE, pay, datetime.now(UTC)))
