"""Edges remember the session of their birth, so their Last Will is recognised.

Revision ID: 0006_edge_session
Revises: 0001_registry
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_edge_session"
down_revision = "0001_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``edges.session``."""
    with op.batch_alter_table("edges") as batch:
        batch.add_column(sa.Column("session", sa.String(64)))


def downgrade() -> None:
    """Drop ``edges.session``."""
    with op.batch_alter_table("edges") as batch:
        batch.drop_column("session")
