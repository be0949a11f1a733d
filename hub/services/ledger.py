"""Ledger operations: accounts, posting, top-ups, refunds, daily sums and the invariant check.

Functions take an open session and never commit: the caller (a request batch, an API route)
owns the transaction. A wallet is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
serialises writers) before anything is decided on its balance.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from hub.db.ledger import (
    CLEARING,
    PURCHASE,
    REFUND,
    TAKINGS,
    TOPUP,
    WALLET,
    AccountRow,
    EntryRow,
    TransactionRow,
    clearing_key,
    takings_key,
    wallet_key,
)

log = logging.getLogger(__name__)


class LedgerError(Exception):
    """A ledger operation that cannot be done; ``vi`` and ``en`` say why to a person."""

    status = 400

    def __init__(self, vi: str, en: str) -> None:
        super().__init__(en)
        self.vi, self.en = vi, en


class NotFound(LedgerError):
    """The transaction or student does not exist."""

    status = 404


class Conflict(LedgerError):
    """Already done differently: a refunded purchase, a reused reference."""

    status = 409


@dataclass(frozen=True, slots=True)
class Posted:
    """A transaction in the ledger: its id, the wallet's balance after it, and whether this
    call applied it (False: the reference was already applied, nothing changed)."""

    transaction_id: int
    balance: int
    applied: bool


def utc(ts: datetime) -> datetime:
    """``ts`` in UTC; a naive value (SQLite gives those back) is taken as UTC already."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def day_bounds(ts: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The UTC start and end of the school's local day that contains ``ts``."""
    zone = ZoneInfo(timezone)
    day = utc(ts).astimezone(zone).date()
    return local_day_start(day, zone), local_day_start(day + timedelta(days=1), zone)


def local_day_start(day: date, zone: ZoneInfo) -> datetime:
    """Midnight of ``day`` in ``zone``, in UTC."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _insert_ignore(session: Session, values: dict[str, object]) -> None:
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(AccountRow).values(**values).on_conflict_do_nothing(
        index_elements=["key"])
    session.execute(statement)


def house_account(session: Session, school: str, kind: str, channel: str = "") -> int:
    """The id of a school's takings or clearing account, created on first use."""
    key = takings_key(school) if kind == TAKINGS else clearing_key(school, channel)
    cache: dict[str, int] = session.info.setdefault("ledger.house", {})
    if key in cache:
        return cache[key]
    account = session.scalar(select(AccountRow.id).where(AccountRow.key == key))
    if account is None:
        _insert_ignore(session, {"key": key, "school": school, "kind": kind, "balance": 0})
        account = session.scalar(select(AccountRow.id).where(AccountRow.key == key))
    assert account is not None
    cache[key] = account
    return account


def lock_wallet(session: Session, student_id: int, school: str) -> tuple[int, int]:
    """``(account id, balance)`` of the student's wallet, locked for this transaction;
    created empty on first use."""
    query = (select(AccountRow.id, AccountRow.balance)
             .where(AccountRow.key == wallet_key(student_id)).with_for_update())
    row = session.execute(query).first()
    if row is None:
        _insert_ignore(session, {"key": wallet_key(student_id), "school": school, "kind": WALLET,
                                 "student_id": student_id, "balance": 0})
        row = session.execute(query).one()
    return row[0], row[1]


#: The whole posting in one round trip on PostgreSQL (data-modifying CTEs).
_POST_PG = text("""
WITH t AS (
  INSERT INTO ledger_transactions (kind, reference, school, wallet_id, amount, ts, offline,
                                   flagged, created_by, device, card, note)
  VALUES (:kind, :reference, :school, :wallet_id, :amount, :ts, :offline, :flagged,
          :created_by, :device, :card, :note)
  RETURNING id),
e AS (
  INSERT INTO ledger_entries (transaction_id, account_id, amount)
  SELECT id, CAST(:wallet_id AS integer), CAST(:delta AS bigint) FROM t
  UNION ALL SELECT id, CAST(:counter AS integer), -CAST(:delta AS bigint) FROM t)
UPDATE ledger_accounts SET balance = balance + CAST(:delta AS bigint) WHERE id = :wallet_id
RETURNING (SELECT id FROM t), balance
""")


def post(session: Session, *, kind: str, reference: str, school: str, wallet_id: int,
         amount: int, counter_account: int, wallet_delta: int, ts: datetime,
         offline: bool = False, flagged: bool = False, created_by: str = "", device: str = "",
         card: str = "", note: str = "") -> Posted:
    """Insert one two-legged transaction (``wallet_delta`` on the wallet, its opposite on
    ``counter_account``) and move the wallet's cached balance; the wallet must be locked."""
    values = {"kind": kind, "reference": reference, "school": school, "wallet_id": wallet_id,
              "amount": amount, "ts": utc(ts), "offline": offline, "flagged": flagged,
              "created_by": created_by, "device": device, "card": card, "note": note}
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        transaction_id, balance = connection.execute(
            _POST_PG, {**values, "delta": wallet_delta, "counter": counter_account}).one()
        return Posted(transaction_id, balance, True)
    transaction_id = connection.execute(
        insert(TransactionRow).values(**values).returning(TransactionRow.id)).scalar_one()
    connection.execute(insert(EntryRow), [
        {"transaction_id": transaction_id, "account_id": wallet_id, "amount": wallet_delta},
        {"transaction_id": transaction_id, "account_id": counter_account, "amount": -wallet_delta},
    ])
    balance = connection.execute(
        update(AccountRow).where(AccountRow.id == wallet_id)
        .values(balance=AccountRow.balance + wallet_delta)
        .returning(AccountRow.balance)).scalar_one()
    return Posted(transaction_id, balance, True)


def _existing(session: Session, reference: str) -> TransactionRow | None:
    return session.scalar(select(TransactionRow).where(TransactionRow.reference == reference))


def top_up(session: Session, *, school: str, student_id: int, amount: int, channel: str,
           reference: str, created_by: str, note: str = "",
           ts: datetime | None = None) -> Posted:
    """Credit a wallet from a channel's clearing account, once per ``reference``."""
    if amount <= 0:
        raise LedgerError("Số tiền phải lớn hơn 0", "Amount must be positive")
    wallet_id, _ = lock_wallet(session, student_id, school)
    done = _existing(session, reference)
    if done is not None:
        if done.wallet_id != wallet_id or done.amount != amount or done.kind != TOPUP:
            raise Conflict("Mã giao dịch đã được dùng cho giao dịch khác",
                           "Reference already used for another transaction")
        balance = session.scalar(select(AccountRow.balance).where(AccountRow.id == wallet_id))
        return Posted(done.id, int(balance or 0), False)
    clearing = house_account(session, school, CLEARING, channel)
    return post(session, kind=TOPUP, reference=reference, school=school, wallet_id=wallet_id,
                amount=amount, counter_account=clearing, wallet_delta=amount,
                ts=ts or datetime.now(UTC), created_by=created_by, note=note[:500])


def refund(session: Session, *, transaction_id: int, created_by: str, note: str = "",
           school: str | None = None) -> Posted:
    """Reverse a purchase with a new transaction of opposite entries; once per purchase."""
    original = session.get(TransactionRow, transaction_id)
    if original is None or (school is not None and original.school != school):
        raise NotFound("Không tìm thấy giao dịch", "Transaction not found")
    if original.kind != PURCHASE or original.wallet_id is None:
        raise Conflict("Chỉ hoàn tiền được giao dịch mua hàng", "Only purchases can be refunded")
    wallet = session.execute(select(AccountRow.student_id).where(
        AccountRow.id == original.wallet_id)).scalar_one()
    assert wallet is not None
    lock_wallet(session, wallet, original.school)
    if session.scalar(select(TransactionRow.id).where(
            TransactionRow.reverses_id == transaction_id)) is not None:
        raise Conflict("Giao dịch đã được hoàn tiền", "Purchase already refunded")
    legs = session.execute(select(EntryRow.account_id, EntryRow.amount).where(
        EntryRow.transaction_id == transaction_id)).all()
    refund_id = session.execute(
        insert(TransactionRow).values(
            kind=REFUND, reference=f"refund:{transaction_id}", school=original.school,
            wallet_id=original.wallet_id, amount=original.amount, ts=datetime.now(UTC),
            created_by=created_by, note=note[:500], reverses_id=transaction_id,
            device=original.device, card=original.card)
        .returning(TransactionRow.id)).scalar_one()
    session.execute(insert(EntryRow), [
        {"transaction_id": refund_id, "account_id": account, "amount": -amount}
        for account, amount in legs])
    delta = -sum(amount for account, amount in legs if account == original.wallet_id)
    balance = session.execute(
        update(AccountRow).where(AccountRow.id == original.wallet_id)
        .values(balance=AccountRow.balance + delta).returning(AccountRow.balance)).scalar_one()
    return Posted(refund_id, balance, True)


def spent_between(session: Session, wallet_ids: list[int] | None, start: datetime,
                  end: datetime, school: str | None = None) -> dict[int, int]:
    """Purchases not refunded, per wallet, with ``start <= ts < end``: of ``wallet_ids``, or
    of every wallet of ``school`` when None."""
    refunded = aliased(TransactionRow)
    query = (select(TransactionRow.wallet_id, func.sum(TransactionRow.amount))
             .where(TransactionRow.kind == PURCHASE,
                    TransactionRow.ts >= utc(start), TransactionRow.ts < utc(end),
                    ~exists().where(refunded.reverses_id == TransactionRow.id))
             .group_by(TransactionRow.wallet_id))
    if wallet_ids is not None:
        query = query.where(TransactionRow.wallet_id.in_(wallet_ids))
    if school is not None:
        query = query.where(TransactionRow.school == school)
    return {int(w): int(s) for w, s in session.execute(query) if w is not None}


def verify_ledger(session: Session) -> list[str]:
    """Recompute the ledger and list every broken invariant (empty: all hold)."""
    problems: list[str] = []
    sums = session.execute(
        select(TransactionRow.id, func.coalesce(func.sum(EntryRow.amount), 0),
               func.count(EntryRow.id))
        .outerjoin(EntryRow, EntryRow.transaction_id == TransactionRow.id)
        .group_by(TransactionRow.id)).all()
    for transaction_id, total, legs in sums:
        if total != 0 or legs < 2:
            problems.append(f"transaction {transaction_id}: {legs} entries summing to {total}")
    orphans = session.scalar(select(func.count(EntryRow.id)).where(
        ~exists().where(TransactionRow.id == EntryRow.transaction_id)))
    if orphans:
        problems.append(f"{orphans} entries without a transaction")
    wallets = session.execute(select(AccountRow.id, AccountRow.balance)
                              .where(AccountRow.kind == WALLET)).all()
    for wallet_id, cached in wallets:
        rows = session.execute(
            select(TransactionRow.id, TransactionRow.kind, TransactionRow.offline,
                   EntryRow.amount)
            .join(EntryRow, EntryRow.transaction_id == TransactionRow.id)
            .where(EntryRow.account_id == wallet_id).order_by(TransactionRow.id)).all()
        running = 0
        for transaction_id, kind, offline, amount in rows:
            running += amount
            if kind == PURCHASE and not offline and running < 0:
                problems.append(f"wallet {wallet_id}: online purchase {transaction_id} "
                                f"took the balance to {running}")
        if running != cached:
            problems.append(f"wallet {wallet_id}: cached balance {cached} != entries {running}")
    twice = session.execute(
        select(TransactionRow.reverses_id, func.count()).where(TransactionRow.reverses_id
                                                               .is_not(None))
        .group_by(TransactionRow.reverses_id).having(func.count() > 1)).all()
    problems += [f"purchase {original} refunded {n} times" for original, n in twice]
    return problems
