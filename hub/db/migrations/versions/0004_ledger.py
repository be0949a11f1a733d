"""Wallets and the double-entry ledger: accounts, transactions, entries.

Revision ID: 0004_ledger
Revises: 0002_people
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_ledger"
down_revision = "0002_people"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the ledger's tables."""
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(140), nullable=False, unique=True),
        sa.Column("school", sa.String(64), sa.ForeignKey("schools.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("student_id", sa.Integer, sa.ForeignKey("students.id", ondelete="RESTRICT"),
                  unique=True),
        sa.Column("balance", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "ledger_transactions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False, unique=True),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("wallet_id", sa.Integer, sa.ForeignKey("ledger_accounts.id")),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offline", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("flagged", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_by", sa.String(200), nullable=False, server_default=""),
        sa.Column("device", sa.String(140), nullable=False, server_default=""),
        sa.Column("card", sa.String(300), nullable=False, server_default=""),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
        sa.Column("reverses_id", sa.Integer, sa.ForeignKey("ledger_transactions.id"),
                  unique=True),
    )
    op.create_index("ix_ledger_transactions_wallet_ts", "ledger_transactions", ["wallet_id", "ts"])
    op.create_index("ix_ledger_transactions_school_ts", "ledger_transactions", ["school", "ts"])
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("transaction_id", sa.Integer,
                  sa.ForeignKey("ledger_transactions.id", ondelete="RESTRICT"),
                  nullable=False, index=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("ledger_accounts.id"), nullable=False,
                  index=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    """Drop them, dependants first."""
    op.drop_table("ledger_entries")
    op.drop_index("ix_ledger_transactions_school_ts", "ledger_transactions")
    op.drop_index("ix_ledger_transactions_wallet_ts", "ledger_transactions")
    op.drop_table("ledger_transactions")
    op.drop_table("ledger_accounts")
