"""Device registry: edges and devices.

Revision ID: 0001_registry
Revises:
Create Date: 2026-11-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_registry"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``edges`` and ``devices``."""
    op.create_table(
        "edges",
        sa.Column("school", sa.String(64), primary_key=True),
        sa.Column("edge", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True)),
        sa.Column("last_seen", sa.DateTime(timezone=True)),
        sa.Column("fw", sa.String(64), nullable=False),
        sa.Column("uptime_s", sa.Float),
        sa.Column("cpu_pct", sa.Float),
        sa.Column("mem_pct", sa.Float),
        sa.Column("disk_pct", sa.Float),
        sa.Column("temp_c", sa.Float),
        sa.Column("outbox", sa.Integer, nullable=False),
    )
    op.create_table(
        "devices",
        sa.Column("school", sa.String(64), primary_key=True),
        sa.Column("edge", sa.String(64), primary_key=True),
        sa.Column("device", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("room", sa.String(64), nullable=False),
        sa.Column("ok", sa.Boolean),
        sa.Column("errors", sa.Integer, nullable=False),
        sa.Column("last_ts", sa.DateTime(timezone=True)),
        sa.ForeignKeyConstraint(
            ["school", "edge"], ["edges.school", "edges.edge"], ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    """Drop the registry tables."""
    op.drop_table("devices")
    op.drop_table("edges")
