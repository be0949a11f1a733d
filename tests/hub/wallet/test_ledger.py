"""Top-ups, refunds and the ledger's invariants after random sequences of operations."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.db.ledger import TransactionRow
from hub.services.ledger import Conflict, LedgerError, refund, top_up, verify_ledger
from protocol import Code
from tests.hub.wallet.conftest import (
    BANH_MI,
    BAO,
    COM_TAM,
    LUNCH,
    MAI_ANH,
    SCHOOL,
    People,
    decide,
    pay_request,
)


def test_a_top_up_reference_is_applied_once(engine: Engine, people: People) -> None:
    with Session(engine) as session, session.begin():
        first = top_up(session, school=SCHOOL, student_id=people.mai_anh, amount=50_000,
                       channel="bank", reference="bank:VCB-0001", created_by="t")
        again = top_up(session, school=SCHOOL, student_id=people.mai_anh, amount=50_000,
                       channel="bank", reference="bank:VCB-0001", created_by="t")
        assert (first.applied, again.applied) == (True, False)
        assert first.transaction_id == again.transaction_id and again.balance == 150_000
        with pytest.raises(Conflict):  # the same reference for something else is refused
            top_up(session, school=SCHOOL, student_id=people.bao, amount=50_000,
                   channel="bank", reference="bank:VCB-0001", created_by="t")


def test_a_refund_reverses_a_purchase_once(engine: Engine, people: People) -> None:
    assert decide(engine, pay_request(MAI_ANH, COM_TAM)).data["balance"] == 75_000
    with Session(engine) as session, session.begin():
        sale = session.scalars(select(TransactionRow).where(
            TransactionRow.kind == "purchase")).one()
        posted = refund(session, transaction_id=sale.id, created_by="cashier:co-lan")
        assert posted.balance == 100_000
        with pytest.raises(Conflict):
            refund(session, transaction_id=sale.id, created_by="cashier:co-lan")
        topup = session.scalars(select(TransactionRow).where(
            TransactionRow.kind == "topup")).first()
        assert topup is not None
        with pytest.raises(Conflict):
            refund(session, transaction_id=topup.id, created_by="cashier:co-lan")
        assert verify_ledger(session) == []


def test_a_refunded_purchase_no_longer_counts_toward_the_daily_limit(
        engine: Engine, people: People) -> None:
    assert decide(engine, pay_request(BAO, COM_TAM)).code is Code.APPROVED
    assert decide(engine, pay_request(BAO, COM_TAM)).code is Code.DECLINED_DAILY_LIMIT
    with Session(engine) as session, session.begin():
        sale = session.scalars(select(TransactionRow).where(
            TransactionRow.kind == "purchase")).one()
        refund(session, transaction_id=sale.id, created_by="cashier:co-lan")
    assert decide(engine, pay_request(BAO, COM_TAM)).code is Code.APPROVED


operations = st.lists(st.tuples(
    st.sampled_from(["topup", "pay", "offline", "refund"]),
    st.sampled_from([MAI_ANH, BAO]),
    st.sampled_from([BANH_MI, COM_TAM, 5_000, 50_000]),
), min_size=1, max_size=25)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_invariants_hold_after_any_sequence(engine: Engine, people: People,
                                            ops: list[tuple[str, str, int]]) -> None:
    # Examples share the database: the invariants must hold for everything written so far.
    students = {MAI_ANH: people.mai_anh, BAO: people.bao}
    for step, (op, card, amount) in enumerate(ops):
        ts = LUNCH + timedelta(days=step % 3, minutes=step)
        if op == "topup":
            with Session(engine) as session, session.begin():
                top_up(session, school=SCHOOL, student_id=students[card], amount=amount,
                       channel="cash", reference=f"cash:{uuid.uuid4()}", created_by="t")
        elif op in ("pay", "offline"):
            outcome = decide(engine, pay_request(card, amount, ts=ts, offline=op == "offline"))
            if op == "offline":
                assert outcome.code is Code.APPROVED
        else:
            with Session(engine) as session, session.begin():
                last = session.scalar(select(TransactionRow.id).where(
                    TransactionRow.kind == "purchase").order_by(TransactionRow.id.desc()))
                if last is not None:
                    try:
                        refund(session, transaction_id=last, created_by="t")
                    except LedgerError:
                        pass  # already refunded: the refusal is the point
    with Session(engine) as session:
        assert verify_ledger(session) == []


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_concurrent_workers_never_spend_the_same_money(engine: Engine, people: People) -> None:
    # Mai Anh has 100.000 đ; two workers try 8 bánh mì each (240.000 đ) at the same moment.
    codes: list[Code] = []
    lock = threading.Lock()
    start = threading.Barrier(2)

    def worker() -> None:
        start.wait()
        for _ in range(8):
            code = decide(engine, pay_request(MAI_ANH, BANH_MI)).code
            with lock:
                codes.append(code)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert codes.count(Code.APPROVED) == 6  # 6 x 15.000 = 90.000 đ; the seventh would not fit
    assert codes.count(Code.DECLINED_INSUFFICIENT_FUNDS) == 10
    with Session(engine) as session:
        assert verify_ledger(session) == []
