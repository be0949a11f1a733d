"""People, cards, rooms, timetable, and the record of processed requests.

Revision ID: 0002_people
Revises: 0001_registry
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_people"
down_revision = "0001_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables of schools and their people."""
    op.create_table(
        "schools",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("area", sa.String(100), nullable=False, server_default=""),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="Asia/Ho_Chi_Minh"),
        sa.Column("late_grace_min", sa.Integer, nullable=False, server_default="10"),
        sa.Column("duplicate_window_s", sa.Integer, nullable=False, server_default="300"),
        sa.Column("offline_limit", sa.Integer, nullable=False, server_default="50000"),
    )
    op.create_table(
        "classes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("school", sa.String(64), sa.ForeignKey("schools.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("room", sa.String(64), nullable=False, server_default=""),
        sa.UniqueConstraint("school", "name"),
    )
    op.create_table(
        "students",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("school", sa.String(64), sa.ForeignKey("schools.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id", ondelete="SET NULL")),
        sa.Column("photo_url", sa.String(500), nullable=False, server_default=""),
        sa.Column("daily_limit", sa.Integer),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.UniqueConstraint("school", "code"),
    )
    op.create_table(
        "teachers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("school", sa.String(64), sa.ForeignKey("schools.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.UniqueConstraint("school", "code"),
    )
    op.create_table(
        "cards",
        sa.Column("card", sa.String(300), primary_key=True),
        sa.Column("student_id", sa.Integer, sa.ForeignKey("students.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("blocked_at", sa.DateTime(timezone=True)),
        sa.Column("blocked_reason", sa.String(200), nullable=False, server_default=""),
    )
    op.create_table(
        "rooms",
        sa.Column("school", sa.String(64), sa.ForeignKey("schools.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False, server_default="classroom"),
    )
    op.create_table(
        "timetable",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("weekday", sa.SmallInteger, nullable=False),
        sa.Column("period", sa.SmallInteger, nullable=False),
        sa.Column("starts", sa.Time, nullable=False),
        sa.Column("ends", sa.Time, nullable=False),
        sa.Column("subject", sa.String(100), nullable=False, server_default=""),
        sa.Column("room", sa.String(64), nullable=False, server_default=""),
        sa.UniqueConstraint("class_id", "weekday", "period"),
    )
    op.create_table(
        "processed_requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("edge", sa.String(64), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
    )


def downgrade() -> None:
    """Drop them, dependants first."""
    for table in ("processed_requests", "timetable", "rooms", "cards", "teachers", "students",
                  "classes", "schools"):
        op.drop_table(table)
