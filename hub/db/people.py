"""Schools, classes, students, teachers, cards, rooms and the timetable (SQLAlchemy 2 ORM).

Cards are keyed by their wire form (``em:0F00A1B2C3``, ``nfc:04A1B2C3D4E5F6``, ``qr:...``): a tap
finds its card with one primary-key lookup. Money columns are whole đồng.
"""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models import Base


class SchoolRow(Base):
    """A school, with the rules its doors and tills follow."""

    __tablename__ = "schools"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Grouping for reports: a former district or today's ward/commune (configurable).
    area: Mapped[str] = mapped_column(String(100), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Ho_Chi_Minh")
    #: Minutes after a period starts before a tap counts as late.
    late_grace_min: Mapped[int] = mapped_column(Integer, default=10)
    #: A second tap within this many seconds is a duplicate.
    duplicate_window_s: Mapped[int] = mapped_column(Integer, default=300)
    #: What a till may sell per card while the hub is unreachable (đồng).
    offline_limit: Mapped[int] = mapped_column(Integer, default=50_000)


class ClassRow(Base):
    """A class (lớp) such as 10A1 in a school year."""

    __tablename__ = "classes"
    __table_args__ = (UniqueConstraint("school", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    school: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    #: Homeroom room, where the class's door reader is.
    room: Mapped[str] = mapped_column(String(64), default="")


class StudentRow(Base):
    """A student; ``code`` is the school's own student number (mã học sinh)."""

    __tablename__ = "students"
    __table_args__ = (UniqueConstraint("school", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    school: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    full_name: Mapped[str] = mapped_column(String(200))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id", ondelete="SET NULL"))
    photo_url: Mapped[str] = mapped_column(String(500), default="")
    #: Set by a parent; None means no limit beyond the balance.
    daily_limit: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True)


class TeacherRow(Base):
    """A teacher or staff member of a school."""

    __tablename__ = "teachers"
    __table_args__ = (UniqueConstraint("school", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    school: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    full_name: Mapped[str] = mapped_column(String(200))


#: Card states: only ``active`` cards open doors and pay.
CARD_ACTIVE, CARD_BLOCKED, CARD_LOST, CARD_REPLACED = "active", "blocked", "lost", "replaced"


class CardRow(Base):
    """A student card; a student may hold several, a lost one is blocked, never deleted."""

    __tablename__ = "cards"

    card: Mapped[str] = mapped_column(String(300), primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=CARD_ACTIVE)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    blocked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    blocked_reason: Mapped[str] = mapped_column(String(200), default="")


class RoomRow(Base):
    """A room and what it is: classroom, lab, library, canteen, gate."""

    __tablename__ = "rooms"

    school: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="classroom")


class TimetableRow(Base):
    """One period of one class on one weekday (0 = Monday)."""

    __tablename__ = "timetable"
    __table_args__ = (UniqueConstraint("class_id", "weekday", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    period: Mapped[int] = mapped_column(SmallInteger)
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)
    subject: Mapped[str] = mapped_column(String(100), default="")
    room: Mapped[str] = mapped_column(String(64), default="")


class ProcessedRequestRow(Base):
    """Every request that took effect, with the answer it got: a retry gets the same answer."""

    __tablename__ = "processed_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school: Mapped[str] = mapped_column(String(64))
    edge: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64))
    #: The JSON of the ``resp`` sent, byte for byte what a retry gets.
    response: Mapped[str] = mapped_column(Text)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
