"""Device-health alerts, each school's alert rules, and the webhook outbox of alert events.

An alert is ``open`` once its condition has held for the school's delay, ``acked`` when a
technician takes it, ``resolved`` when the condition has been gone for the clear delay. At most
one unresolved alert exists per condition key (a partial unique index), so two hub workers
evaluating the same edge cannot open it twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models import Base

#: Alert states.
OPEN, ACKED, RESOLVED = "open", "acked", "resolved"
#: Events POSTed to a school's alert webhook.
EVENT_OPENED, EVENT_ACKED, EVENT_RESOLVED = "opened", "acked", "resolved"

_UNRESOLVED = text("state != 'resolved'")


class AlertRow(Base):
    """One alert: the condition it stands for, its message, and its life."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_school_state", "school", "state"),
        Index("ux_alerts_unresolved_key", "key", unique=True,
              sqlite_where=_UNRESOLVED, postgresql_where=_UNRESOLVED),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: ``{rule}:{school}/{edge}[/{device}]``: the condition this alert stands for.
    key: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    school: Mapped[str] = mapped_column(String(64))
    edge: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64), default="")
    room: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(16), default=OPEN)
    #: The measured value and the limit it passed, when the alert opened.
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    message_vi: Mapped[str] = mapped_column(String(300))
    message_en: Mapped[str] = mapped_column(String(300))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acked_by: Mapped[str] = mapped_column(String(100), default="")
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AlertRulesRow(Base):
    """A school's overrides of the default alert rules, and where its alert events go."""

    __tablename__ = "alert_rules"

    school: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: JSON object of the rule settings that differ from the defaults in code.
    overrides: Mapped[str] = mapped_column(Text, default="{}")
    webhook_url: Mapped[str] = mapped_column(String(500), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    updated_by: Mapped[str] = mapped_column(String(100), default="")


class AlertNotificationRow(Base):
    """An alert event waiting to be POSTed to its school's webhook (the outbox)."""

    __tablename__ = "alert_notifications"
    __table_args__ = (Index("ix_alert_notifications_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: ``alert:{id}:{event}``: one notification per event of an alert.
    key: Mapped[str] = mapped_column(String(120), unique=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    school: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))
    #: The JSON body, byte for byte what is POSTed.
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str] = mapped_column(String(500), default="")
