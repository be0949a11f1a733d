"""Door attendance: the ``tap`` handler, closing a period (absences), parents' notifications.

Rules (decided at the tap's own time, ``ts`` from the edge, in the school's timezone):

- Door readers: the period is the student's class's timetable entry for that weekday whose
  ``[starts - EARLY, ends)`` holds the tap (a tap in the break counts for the next period). Before
  ``starts + late_grace_min`` it is ``present``, after that ``late``. A second tap for a period
  already recorded, or any accepted tap of the same kind (door/gate) within
  ``duplicate_window_s``, is ``duplicate``. No period now: the arrival is recorded anyway and the
  answer is ``present`` with ``period: null``.
- Gate readers (device id ``gate*``): ``gate-in-*`` / ``gate-out-*`` say the direction; any
  other gate alternates in, out, in... per student and day. "in" records the arrival (late when
  after the class's first period start + grace), "out" records the leaving time.
- The first accepted tap of a day is the arrival (record period 0) and notifies the parents.
- Notifications go to an outbox table in the same transaction as the record (a crash loses
  none); :mod:`hub.services.attendance_notify` POSTs them.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.db.attendance import (
    ABSENT,
    ARRIVAL,
    LATE,
    PRESENT,
    AttendanceRow,
    NotificationRow,
    SchoolWebhookRow,
    TapRow,
)
from hub.db.people import CARD_ACTIVE, CardRow, ClassRow, SchoolRow, StudentRow, TimetableRow
from hub.services.requests import Outcome, RequestContext
from protocol import Code

#: A tap this long before a period starts counts for it (students wait at the door in the break).
EARLY = timedelta(minutes=30)
_DEFAULTS = SchoolRow(id="", name="", timezone="Asia/Ho_Chi_Minh", late_grace_min=10,
                      duplicate_window_s=300)


def handle_tap(session: Session, ctx: RequestContext) -> Outcome:
    """Decide one ``tap`` inside the open transaction (the request sink's ``Handler``)."""
    tap = ctx.request
    school = session.get(SchoolRow, ctx.school) or _DEFAULTS
    local = tap.ts.astimezone(ZoneInfo(school.timezone))
    gate = tap.device.startswith("gate")
    row = TapRow(id=str(tap.id), school=ctx.school, edge=ctx.edge, device=tap.device,
                 card=tap.card, ts=tap.ts.astimezone(UTC), day=local.date(),
                 kind="gate" if gate else "door", direction="", period=None)
    card = session.get(CardRow, tap.card)
    student = session.get(StudentRow, card.student_id) if card is not None else None
    if card is None or student is None or student.school != ctx.school:
        return _done(session, row, Outcome(Code.DECLINED_UNKNOWN_CARD))
    row.student_id = student.id
    if card.status != CARD_ACTIVE or not student.active:
        return _done(session, row, Outcome(Code.DECLINED_CARD_BLOCKED))
    klass = session.get(ClassRow, student.class_id) if student.class_id is not None else None
    periods = _periods(session, klass, local.weekday())
    grace = timedelta(minutes=school.late_grace_min)
    window = timedelta(seconds=school.duplicate_window_s)
    recent = session.scalar(select(TapRow.id).where(
        TapRow.student_id == student.id, TapRow.kind == row.kind,
        TapRow.ts >= row.ts - window, TapRow.ts <= row.ts + window,
        TapRow.code.in_([Code.ATTENDANCE_PRESENT.value, Code.ATTENDANCE_LATE.value])).limit(1))
    if gate:
        row.direction = _direction(session, tap.device, student.id, row.day)
        period = None
        first = periods[0] if periods else None
        status = LATE if first is not None and _at(local, first.starts) + grace <= local \
            else PRESENT
    else:
        current = _current(periods, local)
        period = current.period if current is not None else None
        status = LATE if current is not None and _at(local, current.starts) + grace <= local \
            else PRESENT
    row.period = period
    screen = {"student": student.code, "name": student.full_name,
              "class": klass.name if klass is not None else "", "photo_url": student.photo_url,
              "period": period}
    record = _record(session, student.id, row.day, period) if period is not None else None
    if recent is not None or (record is not None and record.status != ABSENT):
        return _done(session, row, Outcome(Code.ATTENDANCE_DUPLICATE,
                                           {**screen, "status": "duplicate"}))
    notify = Notifier(session, ctx.school, student, klass)
    arrival = _record(session, student.id, row.day, ARRIVAL)
    if row.direction == "out":
        if arrival is not None:
            arrival.left_ts = row.ts
        notify("leave", row.day, None, PRESENT, row.ts, suffix=row.id)
    elif arrival is None:
        session.add(AttendanceRow(school=ctx.school, student_id=student.id, class_id=student.class_id,
                                  day=row.day, period=ARRIVAL, status=status, first_ts=row.ts))
        notify("arrival", row.day, period, status, row.ts)
    elif status == LATE and period is not None:
        notify("late", row.day, period, status, row.ts)
    if period is not None:
        if record is None:
            session.add(AttendanceRow(school=ctx.school, student_id=student.id,
                                      class_id=student.class_id, day=row.day, period=period,
                                      status=status, first_ts=row.ts))
        else:  # marked absent, then the student came (or an offline tap arrived after closing)
            record.status, record.first_ts = status, row.ts
    code = Code.ATTENDANCE_LATE if status == LATE else Code.ATTENDANCE_PRESENT
    data = {**screen, "status": status}
    if gate:
        data["direction"] = row.direction
    return _done(session, row, Outcome(code, data))


def _done(session: Session, row: TapRow, outcome: Outcome) -> Outcome:
    # Added last: queries before this would autoflush a tap without its code.
    row.code = outcome.code.value
    session.add(row)
    return outcome


def _at(local: datetime, moment: time) -> datetime:
    return datetime.combine(local.date(), moment, tzinfo=local.tzinfo)


def _periods(session: Session, klass: ClassRow | None, weekday: int) -> list[TimetableRow]:
    if klass is None:
        return []
    return list(session.scalars(select(TimetableRow).where(
        TimetableRow.class_id == klass.id, TimetableRow.weekday == weekday)
        .order_by(TimetableRow.starts)))


def _current(periods: list[TimetableRow], local: datetime) -> TimetableRow | None:
    for entry in periods:
        if _at(local, entry.starts) - EARLY <= local < _at(local, entry.ends):
            return entry
    return None


def _record(session: Session, student_id: int, day: date, period: int) -> AttendanceRow | None:
    return session.scalar(select(AttendanceRow).where(
        AttendanceRow.student_id == student_id, AttendanceRow.day == day,
        AttendanceRow.period == period))


def _direction(session: Session, device: str, student_id: int, day: date) -> str:
    if device.startswith("gate-in"):
        return "in"
    if device.startswith("gate-out"):
        return "out"
    last = session.scalar(select(TapRow.direction).where(
        TapRow.student_id == student_id, TapRow.day == day, TapRow.kind == "gate",
        TapRow.code.in_([Code.ATTENDANCE_PRESENT.value, Code.ATTENDANCE_LATE.value]))
        .order_by(TapRow.ts.desc()).limit(1))
    return "out" if last == "in" else "in"


class Notifier:
    """Writes parents' notifications for one student to the outbox, if the school has a webhook."""

    def __init__(self, session: Session, school: str, student: StudentRow,
                 klass: ClassRow | None) -> None:
        self.session, self.school, self.student, self.klass = session, school, student, klass
        self.enabled = session.get(SchoolWebhookRow, school) is not None

    def __call__(self, kind: str, day: date, period: int | None, status: str,
                 ts: datetime | None, suffix: str = "") -> None:
        """Queue one notification (``arrival``, ``late``, ``absence``, ``leave``)."""
        if not self.enabled:
            return
        key = f"{kind}:{self.student.id}:{day.isoformat()}:{period or 0}{':' + suffix if suffix else ''}"
        body: dict[str, Any] = {
            "key": key, "kind": kind, "school": self.school, "student": self.student.code,
            "name": self.student.full_name, "class": self.klass.name if self.klass else "",
            "date": day.isoformat(), "period": period, "status": status,
            "ts": ts.astimezone(UTC).isoformat() if ts is not None else None,
        }
        self.session.add(NotificationRow(key=key, school=self.school, kind=kind,
                                         payload=json.dumps(body, ensure_ascii=False),
                                         next_attempt_at=datetime.now(UTC)))


def mark_absences(engine: Engine, school: str, day: date, up_to: time | None = None,
                  *, period: int | None = None) -> int:
    """Mark absent every active student without a record for each period of ``day`` that ended
    by ``up_to`` (or only ``period``); idempotent. Returns how many records it wrote."""
    written = 0
    with Session(engine) as session, session.begin():
        query = (select(TimetableRow, ClassRow).join(ClassRow)
                 .where(ClassRow.school == school, TimetableRow.weekday == day.weekday()))
        if up_to is not None:
            query = query.where(TimetableRow.ends <= up_to)
        if period is not None:
            query = query.where(TimetableRow.period == period)
        entries = session.execute(query).all()
        done = {(student_id, number) for student_id, number in session.execute(
            select(AttendanceRow.student_id, AttendanceRow.period).where(
                AttendanceRow.school == school, AttendanceRow.day == day))}
        students: dict[int, list[StudentRow]] = {}
        for entry, klass in entries:
            if klass.id not in students:
                students[klass.id] = list(session.scalars(select(StudentRow).where(
                    StudentRow.class_id == klass.id, StudentRow.active.is_(True))))
            for student in students[klass.id]:
                if (student.id, entry.period) in done:
                    continue
                session.add(AttendanceRow(school=school, student_id=student.id,
                                          class_id=klass.id, day=day, period=entry.period,
                                          status=ABSENT, first_ts=None))
                Notifier(session, school, student, klass)("absence", day, entry.period,
                                                          ABSENT, None)
                done.add((student.id, entry.period))
                written += 1
    return written
