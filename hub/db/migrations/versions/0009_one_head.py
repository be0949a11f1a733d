"""One head again: the service branches (attendance, ledger, state history, sessions, health,
commands) joined, so that the next revision has a single parent.

Revision ID: 0009_one_head
Revises: 0003_attendance, 0004_ledger, 0005_edge_state_changes, 0006_edge_session,
    0007_health, 0008_commands
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0009_one_head"
down_revision = ("0003_attendance", "0004_ledger", "0005_edge_state_changes",
                 "0006_edge_session", "0007_health", "0008_commands")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: a merge point."""


def downgrade() -> None:
    """Nothing to change: a merge point."""
