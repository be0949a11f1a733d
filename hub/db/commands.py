"""The table of commands sent to edges: who sent what, and what the edge answered.

States: ``sent`` until the ack or the deadline; ``ok`` / ``failed`` when the ack came by the
deadline; ``timeout`` when the deadline passed without one; ``late_ok`` / ``late_failed`` when
the ack came after the deadline (the edge did act, but later than the sender was told to wait).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models import Base


class CommandState(StrEnum):
    """Where a command stands."""

    SENT = "sent"
    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    LATE_OK = "late_ok"
    LATE_FAILED = "late_failed"


#: States that still take an ack: the first ack decides, later copies change nothing.
AWAITING_ACK = (CommandState.SENT, CommandState.TIMEOUT)


class CommandRow(Base):
    """One command to one edge, with its sender and, once it came, the edge's answer."""

    __tablename__ = "commands"
    __table_args__ = (
        Index("ix_commands_edge_sent", "school", "edge", "sent_at"),
        Index("ix_commands_state_deadline", "state", "deadline"),
    )

    #: The command's UUID as text, as it travels in ``cmd`` and comes back as ``re``.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school: Mapped[str] = mapped_column(String(64))
    edge: Mapped[str] = mapped_column(String(64))
    cmd: Mapped[str] = mapped_column(String(64))
    args: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The token subject and role of the sender.
    sent_by: Mapped[str] = mapped_column(String(128))
    sent_role: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(16), default=CommandState.SENT.value)
    #: The ack's result code (``cmd.timeout`` while timed out without one).
    code: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: When the hub received the ack.
    acked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
