"""Tables of the device registry (SQLAlchemy 2 typed ORM). Wire models live in protocol/."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKeyConstraint, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every hub table."""


class EdgeRow(Base):
    """One edge box: its connection state and its latest heartbeat."""

    __tablename__ = "edges"

    school: Mapped[str] = mapped_column(String(64), primary_key=True)
    edge: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="unknown")
    #: ts of the status message that set ``state``; an older status never overrides it.
    since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fw: Mapped[str] = mapped_column(String(64), default="")
    uptime_s: Mapped[float | None] = mapped_column(Float)
    cpu_pct: Mapped[float | None] = mapped_column(Float)
    mem_pct: Mapped[float | None] = mapped_column(Float)
    disk_pct: Mapped[float | None] = mapped_column(Float)
    temp_c: Mapped[float | None] = mapped_column(Float)
    outbox: Mapped[int] = mapped_column(Integer, default=0)
    #: Session of the accepted birth: the Last Will naming it is this connection's death.
    session: Mapped[str | None] = mapped_column(String(64))


class DeviceRow(Base):
    """One device wired to an edge, with its latest health."""

    __tablename__ = "devices"
    __table_args__ = (
        ForeignKeyConstraint(["school", "edge"], ["edges.school", "edges.edge"], ondelete="CASCADE"),
    )

    school: Mapped[str] = mapped_column(String(64), primary_key=True)
    edge: Mapped[str] = mapped_column(String(64), primary_key=True)
    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), default="unknown")
    model: Mapped[str] = mapped_column(String(64), default="")
    room: Mapped[str] = mapped_column(String(64), default="")
    ok: Mapped[bool | None] = mapped_column(Boolean)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    last_ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
