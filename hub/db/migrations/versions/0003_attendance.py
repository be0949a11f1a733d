"""Taps, attendance records, parents' webhook outbox and roster versions.

Revision ID: 0003_attendance
Revises: 0002_people
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_attendance"
down_revision = "0002_people"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the attendance tables."""
    op.create_table(
        "taps",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("school", sa.String(64), nullable=False, index=True),
        sa.Column("edge", sa.String(64), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("card", sa.String(300), nullable=False),
        sa.Column("student_id", sa.Integer, sa.ForeignKey("students.id", ondelete="CASCADE")),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False, server_default="door"),
        sa.Column("direction", sa.String(4), nullable=False, server_default=""),
        sa.Column("period", sa.SmallInteger),
        sa.Column("code", sa.String(64), nullable=False),
    )
    op.create_index("ix_taps_student_ts", "taps", ["student_id", "ts"])
    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("student_id", sa.Integer, sa.ForeignKey("students.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id", ondelete="SET NULL")),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("period", sa.SmallInteger, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("first_ts", _TS),
        sa.Column("left_ts", _TS),
        sa.UniqueConstraint("student_id", "day", "period"),
    )
    op.create_index("ix_attendance_class_day", "attendance", ["class_id", "day"])
    op.create_table(
        "school_webhooks",
        sa.Column("school", sa.String(64), sa.ForeignKey("schools.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("url", sa.String(500), nullable=False),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(120), nullable=False, unique=True),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False, server_default=sa.func.now()),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", _TS),
        sa.Column("sent_at", _TS),
        sa.Column("last_error", sa.String(500), nullable=False, server_default=""),
    )
    op.create_index("ix_notifications_pending", "notifications", ["sent_at", "next_attempt_at"])
    op.create_table(
        "roster_versions",
        sa.Column("school", sa.String(64), primary_key=True),
        sa.Column("salt", sa.String(16), nullable=False),
        sa.Column("counter", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    """Drop them."""
    for table in ("roster_versions", "notifications", "school_webhooks", "attendance", "taps"):
        op.drop_table(table)
