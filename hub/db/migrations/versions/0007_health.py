"""Device health: the hardware inventory, alerts, schools' alert rules, the alert webhook outbox.

Revision ID: 0007_health
Revises: 0002_people
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_health"
down_revision = "0002_people"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_UNRESOLVED = sa.text("state != 'resolved'")


def upgrade() -> None:
    """Create ``inventory``, ``alerts``, ``alert_rules`` and ``alert_notifications``."""
    op.create_table(
        "inventory",
        sa.Column("asset_tag", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("edge", sa.String(64), nullable=False),
        sa.Column("device", sa.String(64), nullable=False, server_default=""),
        sa.Column("room", sa.String(64), nullable=False, server_default=""),
        sa.Column("install_date", sa.Date),
        sa.Column("warranty_until", sa.Date),
        sa.Column("firmware", sa.String(64), nullable=False, server_default=""),
        sa.Column("updated_at", _TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_inventory_slot", "inventory", ["school", "edge", "device"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("edge", sa.String(64), nullable=False),
        sa.Column("device", sa.String(64), nullable=False, server_default=""),
        sa.Column("room", sa.String(64), nullable=False, server_default=""),
        sa.Column("state", sa.String(16), nullable=False, server_default="open"),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("message_vi", sa.String(300), nullable=False),
        sa.Column("message_en", sa.String(300), nullable=False),
        sa.Column("opened_at", _TS, nullable=False),
        sa.Column("acked_at", _TS),
        sa.Column("acked_by", sa.String(100), nullable=False, server_default=""),
        sa.Column("resolved_at", _TS),
    )
    op.create_index("ix_alerts_school_state", "alerts", ["school", "state"])
    op.create_index("ux_alerts_unresolved_key", "alerts", ["key"], unique=True,
                    sqlite_where=_UNRESOLVED, postgresql_where=_UNRESOLVED)
    op.create_table(
        "alert_rules",
        sa.Column("school", sa.String(64), primary_key=True),
        sa.Column("overrides", sa.Text, nullable=False, server_default="{}"),
        sa.Column("webhook_url", sa.String(500), nullable=False, server_default=""),
        sa.Column("updated_at", _TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_by", sa.String(100), nullable=False, server_default=""),
    )
    op.create_table(
        "alert_notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(120), nullable=False, unique=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False, server_default=sa.func.now()),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", _TS),
        sa.Column("sent_at", _TS),
        sa.Column("last_error", sa.String(500), nullable=False, server_default=""),
    )
    op.create_index("ix_alert_notifications_pending", "alert_notifications",
                    ["sent_at", "next_attempt_at"])


def downgrade() -> None:
    """Drop the device-health tables."""
    op.drop_table("alert_notifications")
    op.drop_table("alert_rules")
    op.drop_table("alerts")
    op.drop_table("inventory")
