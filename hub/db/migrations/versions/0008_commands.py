"""Commands sent to edges and their acknowledgements.

Revision ID: 0008_commands
Revises: 0001_registry
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_commands"
down_revision = "0001_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``commands`` with its history and sweeper indexes."""
    op.create_table(
        "commands",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("edge", sa.String(64), nullable=False),
        sa.Column("cmd", sa.String(64), nullable=False),
        sa.Column("args", sa.JSON, nullable=False),
        sa.Column("sent_by", sa.String(128), nullable=False),
        sa.Column("sent_role", sa.String(16), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64)),
        sa.Column("data", sa.JSON),
        sa.Column("acked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_commands_edge_sent", "commands", ["school", "edge", "sent_at"])
    op.create_index("ix_commands_state_deadline", "commands", ["state", "deadline"])


def downgrade() -> None:
    """Drop the commands."""
    op.drop_index("ix_commands_state_deadline", table_name="commands")
    op.drop_index("ix_commands_edge_sent", table_name="commands")
    op.drop_table("commands")
