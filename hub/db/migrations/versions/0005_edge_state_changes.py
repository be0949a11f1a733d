"""History of edge state changes (availability in quarterly reports).

Revision ID: 0005_edge_state_changes
Revises: 0002_people
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_edge_state_changes"
down_revision = "0002_people"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``edge_state_changes`` and seed it with each edge's current state."""
    op.create_table(
        "edge_state_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("edge", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_edge_state_changes_edge_ts", "edge_state_changes",
                    ["school", "edge", "ts"])
    # Edges known before this revision start their history at their current state.
    op.execute("INSERT INTO edge_state_changes (school, edge, state, ts) "
               "SELECT school, edge, state, since FROM edges WHERE since IS NOT NULL")


def downgrade() -> None:
    """Drop the history."""
    op.drop_index("ix_edge_state_changes_edge_ts", table_name="edge_state_changes")
    op.drop_table("edge_state_changes")
