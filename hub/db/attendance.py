"""Attendance tables: taps, attendance records, parents' webhook outbox, roster versions.

A record is one per (student, local date, period). Period ``0`` is the day's arrival (the first
tap of the day, at a gate or at a door with no period running), so that every key column is
NOT NULL and the unique constraint holds on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import people  # noqa: F401 - the tables referenced below must be registered first
from hub.db.models import Base

#: The day's arrival record uses this period number.
ARRIVAL = 0
#: Record statuses; ``duplicate`` is an answer only, never stored in a record.
PRESENT, LATE, ABSENT = "present", "late", "absent"


class TapRow(Base):
    """Every tap decided by the hub, keyed by the request id (exactly once)."""

    __tablename__ = "taps"
    __table_args__ = (Index("ix_taps_student_ts", "student_id", "ts"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school: Mapped[str] = mapped_column(String(64), index=True)
    edge: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))
    card: Mapped[str] = mapped_column(String(300))
    #: None for an unknown card (kept: who tries unknown cards at a door matters).
    student_id: Mapped[int | None] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"))
    #: When the student tapped, at the edge (UTC), not when the hub heard of it.
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    day: Mapped[date] = mapped_column(Date)
    #: ``door`` or ``gate``; a gate tap also has a direction ``in`` / ``out``.
    kind: Mapped[str] = mapped_column(String(8), default="door")
    direction: Mapped[str] = mapped_column(String(4), default="")
    period: Mapped[int | None] = mapped_column(SmallInteger)
    code: Mapped[str] = mapped_column(String(64))


class AttendanceRow(Base):
    """A student's attendance for one period (0 = arrival) of one day."""

    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("student_id", "day", "period"),
                      Index("ix_attendance_class_day", "class_id", "day"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    school: Mapped[str] = mapped_column(String(64))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id", ondelete="SET NULL"))
    day: Mapped[date] = mapped_column(Date)
    period: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(8))
    #: First tap that counted (UTC); None for an absence.
    first_ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Arrival records only: when a gate saw the student leave.
    left_ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SchoolWebhookRow(Base):
    """Where a school's parent notifications are POSTed."""

    __tablename__ = "school_webhooks"

    school: Mapped[str] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(String(500))


class NotificationRow(Base):
    """A parent notification waiting to be POSTed (the outbox), written with its record."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: ``{kind}:{student_id}:{day}:{period}``: at most one notification per fact.
    key: Mapped[str] = mapped_column(String(120), unique=True)
    school: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    #: The JSON body, byte for byte what is POSTed.
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str] = mapped_column(String(500), default="")


class RosterVersionRow(Base):
    """A counter per school bumped by every write to its cards, students or classes."""

    __tablename__ = "roster_versions"

    school: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Random per counter row, so a rebuilt database never repeats an old version.
    salt: Mapped[str] = mapped_column(String(16))
    counter: Mapped[int] = mapped_column(Integer, default=0)
