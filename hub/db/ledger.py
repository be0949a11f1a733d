"""The double-entry ledger: accounts, transactions and their entries (whole đồng, signed).

An entry's amount is what it adds to its account: a purchase is ``-amount`` on the student's
wallet and ``+amount`` on the canteen's takings; a top-up is ``+amount`` on the wallet and
``-amount`` on the channel's clearing account. Every transaction's entries sum to zero.

Only wallets keep a cached ``balance`` (updated in the same transaction as their entries):
a wallet is what a till decides on. The school's house accounts (takings, clearing) are summed
from their entries when asked, so concurrent tills never queue on one hot row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import people  # noqa: F401 - the tables our foreign keys point at
from hub.db.models import Base

#: Account kinds.
WALLET, TAKINGS, CLEARING = "wallet", "takings", "clearing"
#: Top-up channels, each with its own clearing account per school.
CHANNEL_CASH, CHANNEL_BANK = "cash", "bank"
#: Transaction kinds.
TOPUP, PURCHASE, REFUND, ADJUSTMENT = "topup", "purchase", "refund", "adjustment"


def wallet_key(student_id: int) -> str:
    """The unique key of a student's wallet."""
    return f"wallet:{student_id}"


def takings_key(school: str) -> str:
    """The unique key of a school canteen's takings account."""
    return f"takings:{school}"


def clearing_key(school: str, channel: str) -> str:
    """The unique key of a school's clearing account for one top-up channel."""
    return f"clearing:{school}:{channel}"


class AccountRow(Base):
    """A ledger account: a student's wallet, a canteen's takings, a channel's clearing."""

    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: ``wallet:{student}``, ``takings:{school}``, ``clearing:{school}:{channel}``.
    key: Mapped[str] = mapped_column(String(140), unique=True)
    school: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    student_id: Mapped[int | None] = mapped_column(
        ForeignKey("students.id", ondelete="RESTRICT"), unique=True)
    #: Wallets only: the sum of the account's entries, kept in step in the same transaction.
    balance: Mapped[int] = mapped_column(BigInteger, default=0)


class TransactionRow(Base):
    """One ledger transaction; ``reference`` (request id or provider reference) applies it once."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (Index("ix_ledger_transactions_wallet_ts", "wallet_id", "ts"),
                      Index("ix_ledger_transactions_school_ts", "school", "ts"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: ``req:{uuid}`` for till requests, ``bank:{ref}`` for callbacks, ``refund:{id}``...
    reference: Mapped[str] = mapped_column(String(200), unique=True)
    school: Mapped[str] = mapped_column(String(64))
    #: The wallet the transaction touches (for history and daily sums without a join).
    wallet_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_accounts.id"))
    #: What the wallet paid or received, positive; the entries carry the signs.
    amount: Mapped[int] = mapped_column(BigInteger)
    #: When it happened: the till's ``ts`` for purchases, the hub's clock otherwise.
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Approved by the edge without the hub (an offline sale).
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Needs a look: an offline sale that took the wallet below zero or used a blocked card.
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    #: The till (``edge/device``) of a purchase.
    device: Mapped[str] = mapped_column(String(140), default="")
    card: Mapped[str] = mapped_column(String(300), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    #: A refund's original purchase; unique, so a purchase is refunded at most once.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"),
                                                    unique=True)


class EntryRow(Base):
    """One leg of a transaction: a signed amount on one account."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transaction_id: Mapped[int] = mapped_column(
        ForeignKey("ledger_transactions.id", ondelete="RESTRICT"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
