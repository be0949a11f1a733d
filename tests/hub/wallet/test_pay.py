"""``pay`` decisions on SQLite and PostgreSQL, and the ledger they leave behind."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.db.ledger import AccountRow, TransactionRow, wallet_key
from hub.services.ledger import verify_ledger
from protocol import Code
from tests.hub.wallet.conftest import (
    BANH_MI,
    BAO,
    BLOCKED,
    COM_TAM,
    LUNCH,
    MAI_ANH,
    People,
    decide,
    pay_request,
)


def balance(engine: Engine, student_id: int) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(AccountRow.balance).where(
            AccountRow.key == wallet_key(student_id))) or 0)


def test_an_approved_purchase_debits_the_wallet_and_credits_the_takings(
        engine: Engine, people: People) -> None:
    outcome = decide(engine, pay_request(MAI_ANH, BANH_MI))
    assert outcome.code is Code.APPROVED
    assert outcome.data == {"balance": 85_000, "amount": BANH_MI, "name": "Nguyễn Thị Mai Anh"}
    assert balance(engine, people.mai_anh) == 85_000
    with Session(engine) as session:
        sale = session.scalars(select(TransactionRow).where(TransactionRow.kind == "purchase")).one()
        assert (sale.device, sale.card, sale.offline, sale.flagged) == (
            "can-tin/till-1", MAI_ANH, False, False)
        assert verify_ledger(session) == []


def test_declines_leave_no_trace(engine: Engine, people: People) -> None:
    cases = [(pay_request("em:00000000AA", BANH_MI), Code.DECLINED_UNKNOWN_CARD),
             (pay_request(BLOCKED, BANH_MI), Code.DECLINED_CARD_BLOCKED),
             (pay_request(MAI_ANH, 100_001), Code.DECLINED_INSUFFICIENT_FUNDS)]
    for pay, code in cases:
        assert decide(engine, pay).code is code
    # A card of this school is unknown to another school's tills.
    assert decide(engine, pay_request(MAI_ANH, BANH_MI), school="thpt-nguyen-du").code is \
        Code.DECLINED_UNKNOWN_CARD
    assert decide(engine, pay_request(MAI_ANH, 100_001)).data["balance"] == 100_000
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(TransactionRow)) == 2  # top-ups
    assert balance(engine, people.mai_anh) == 100_000


def test_the_daily_limit_counts_the_school_day_in_its_timezone(
        engine: Engine, people: People) -> None:
    # 23:30 the evening before (local) is another day; 06:30 local is 23:30 UTC the day before
    # but the same school day as lunch.
    evening_before = datetime.fromisoformat("2026-11-19T23:30:00+07:00")
    assert decide(engine, pay_request(BAO, BANH_MI, ts=evening_before)).code is Code.APPROVED
    early = datetime.fromisoformat("2026-11-19T23:30:00+00:00")
    assert decide(engine, pay_request(BAO, BANH_MI, ts=early)).code is Code.APPROVED
    assert decide(engine, pay_request(BAO, COM_TAM)).code is Code.APPROVED  # 40.000 today
    over = decide(engine, pay_request(BAO, 1_000, ts=LUNCH + timedelta(minutes=5)))
    assert over.code is Code.DECLINED_DAILY_LIMIT
    assert over.data["spent_today"] == 40_000 and over.data["daily_limit"] == 40_000
    assert decide(engine, pay_request(BAO, 1_000, ts=LUNCH + timedelta(days=1))).code is \
        Code.APPROVED


def test_offline_sales_are_never_refused_and_flagged_below_zero(
        engine: Engine, people: People) -> None:
    # The till sold offline from its snapshot; meanwhile the wallet was spent online.
    assert decide(engine, pay_request(BAO, COM_TAM)).code is Code.APPROVED  # 35.000 left
    outcome = decide(engine, pay_request(BAO, COM_TAM + BANH_MI, offline=True))
    assert outcome.code is Code.APPROVED
    assert outcome.data["balance"] == -5_000 and outcome.data["flagged"] is True
    # Over the daily limit and on a blocked card: still recorded (flagged), never refused.
    blocked = decide(engine, pay_request(BLOCKED, BANH_MI, offline=True))
    assert blocked.code is Code.APPROVED and blocked.data["balance"] == -20_000
    fine = decide(engine, pay_request(MAI_ANH, BANH_MI, offline=True))
    assert fine.code is Code.APPROVED and "flagged" not in fine.data
    assert balance(engine, people.bao) == -20_000
    # Online, the negative wallet buys nothing.
    assert decide(engine, pay_request(BAO, 1_000)).code is Code.DECLINED_INSUFFICIENT_FUNDS
    with Session(engine) as session:
        flagged = session.scalars(select(TransactionRow.flagged).where(
            TransactionRow.offline.is_(True)).order_by(TransactionRow.id)).all()
        assert flagged == [True, True, False]
        assert verify_ledger(session) == []


def test_the_same_request_id_is_applied_once(engine: Engine, people: People) -> None:
    request_id = uuid.uuid4()
    first = decide(engine, pay_request(MAI_ANH, COM_TAM, request_id=request_id))
    again = decide(engine, pay_request(MAI_ANH, COM_TAM, request_id=request_id))
    assert first.code is again.code is Code.APPROVED
    assert again.data["balance"] == first.data["balance"] == 75_000
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(TransactionRow).where(
            TransactionRow.reference == f"req:{request_id}")) == 1
    assert balance(engine, people.mai_anh) == 75_000


def test_verify_ledger_finds_a_tampered_balance(engine: Engine, people: People) -> None:
    decide(engine, pay_request(MAI_ANH, BANH_MI))
    with Session(engine) as session, session.begin():
        wallet = session.scalars(select(AccountRow).where(
            AccountRow.key == wallet_key(people.mai_anh))).one()
        wallet.balance += 1
    with Session(engine) as session:
        problems = verify_ledger(session)
    assert len(problems) == 1 and "cached balance 85001" in problems[0]
