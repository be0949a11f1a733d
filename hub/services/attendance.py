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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, exists, select, update
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
from hub.services.ledger import day_bounds, utc
from hub.services.requests import Outcome, RequestContext
from protocol import Code

#: A tap this long before a period starts counts for it (students wait at the door in the break).
EARLY = timedelta(minutes=30)
_DEFAULTS = SchoolRow(id="", name="", timezone="Asia/Ho_Chi_Minh", late_grace_min=10,
                      duplicate_window_s=300)


@dataclass(frozen=True, slots=True)
class _School:
    timezone: str
    late_grace_min: int
    duplicate_window_s: int
    webhook: bool


@dataclass(frozen=True, slots=True)
class _Student:
    id: int
    code: str
    full_name: str


@dataclass(frozen=True, slots=True)
class _Class:
    id: int
    name: str


@dataclass(slots=True)
class _Record:
    """An attendance record as this transaction knows it (``row`` when it added it)."""

    status: str
    id: int | None = None
    row: AttendanceRow | None = None


#: An accepted tap: (kind, ts, day, direction).
_Seen = tuple[str, datetime, date, str]


@dataclass(slots=True)
class _Batch:
    """What a transaction knows for its taps: read for the whole batch in a few set-based
    statements (:meth:`TapHandler.prepare`), then kept up to date by every decision, so a
    second tap of the same student in the batch sees the first one without a flush."""

    schools: dict[str, _School] = field(default_factory=dict)
    cards: dict[str, Any] = field(default_factory=dict)  # card -> row, None: unknown
    periods: dict[tuple[int, int], list[Any]] = field(default_factory=dict)
    days: dict[tuple[int, date], dict[int, _Record]] = field(default_factory=dict)
    seen: dict[int, dict[str, _Seen]] = field(default_factory=dict)  # student -> tap id -> tap
    covered: dict[int, list[tuple[datetime, datetime]]] = field(default_factory=dict)


_ACCEPTED = (Code.ATTENDANCE_PRESENT.value, Code.ATTENDANCE_LATE.value)


def _school_of(connection: Connection, batch: _Batch, school_id: str) -> _School:
    school = batch.schools.get(school_id)
    if school is None:
        found = connection.execute(
            select(SchoolRow.timezone, SchoolRow.late_grace_min, SchoolRow.duplicate_window_s,
                   exists().where(SchoolWebhookRow.school == SchoolRow.id))
            .where(SchoolRow.id == school_id)).first()
        school = _School(*found) if found is not None else _School(
            _DEFAULTS.timezone, _DEFAULTS.late_grace_min, _DEFAULTS.duplicate_window_s, False)
        batch.schools[school_id] = school
    return school


class TapHandler:
    """The ``tap`` handler: ``prepare`` reads what a batch needs, the call decides one tap."""

    def prepare(self, session: Session, contexts: list[RequestContext]) -> None:
        """Read the cards, periods, records and recent taps of ``contexts`` in four statements."""
        batch: _Batch = session.info.setdefault("attendance.batch", _Batch())
        connection = session.connection()
        wanted = []
        for ctx in contexts:
            school = _school_of(connection, batch, ctx.school)
            local = ctx.request.ts.astimezone(ZoneInfo(school.timezone))
            window = timedelta(seconds=school.duplicate_window_s)
            ts = ctx.request.ts.astimezone(UTC)
            since, until = ts - window, ts + window
            if ctx.request.device.startswith("gate"):  # its direction follows the day's taps
                start, end = day_bounds(ts, school.timezone)
                since, until = min(since, start), max(until, end)
            wanted.append((ctx.request.card, local.weekday(), local.date(), since, until))
        cards = {card for card, *_ in wanted if card not in batch.cards}
        if cards:
            for card in cards:
                batch.cards[card] = None
            for row in connection.execute(
                    select(CardRow.card, CardRow.status, StudentRow.id, StudentRow.school,
                           StudentRow.active, StudentRow.code, StudentRow.full_name,
                           StudentRow.photo_url, StudentRow.class_id, ClassRow.name)
                    .join(StudentRow, StudentRow.id == CardRow.student_id)
                    .outerjoin(ClassRow, ClassRow.id == StudentRow.class_id)
                    .where(CardRow.card.in_(cards))):
                batch.cards[row.card] = row
        known = [(batch.cards[card], *rest) for card, *rest in wanted
                 if batch.cards[card] is not None]
        keys = {(row.class_id, weekday) for row, weekday, *_ in known
                if row.class_id is not None and (row.class_id, weekday) not in batch.periods}
        if keys:
            for key in keys:
                batch.periods[key] = []
            for entry in connection.execute(
                    select(TimetableRow.class_id, TimetableRow.weekday, TimetableRow.period,
                           TimetableRow.starts, TimetableRow.ends)
                    .where(TimetableRow.class_id.in_({c for c, _ in keys}),
                           TimetableRow.weekday.in_({w for _, w in keys}))
                    .order_by(TimetableRow.starts)):
                if (entry.class_id, entry.weekday) in keys:
                    batch.periods[(entry.class_id, entry.weekday)].append(entry)
        days = {(row.id, day) for row, _, day, *_ in known if (row.id, day) not in batch.days}
        if days:
            for key in days:
                batch.days[key] = {}
            for record in connection.execute(
                    select(AttendanceRow.student_id, AttendanceRow.day, AttendanceRow.period,
                           AttendanceRow.status, AttendanceRow.id)
                    .where(AttendanceRow.student_id.in_({s for s, _ in days}),
                           AttendanceRow.day.in_({d for _, d in days}))):
                if (record.student_id, record.day) in days:
                    batch.days[(record.student_id, record.day)][record.period] = _Record(
                        record.status, record.id)
        spans = [(row.id, since, until) for row, _, _, since, until in known
                 if not any(a <= since and until <= b for a, b in batch.covered.get(row.id, ()))]
        if spans:
            since, until = min(s for _, s, _ in spans), max(u for _, _, u in spans)
            students = {student for student, _, _ in spans}
            for student in students:
                batch.covered.setdefault(student, []).append((since, until))
                batch.seen.setdefault(student, {})
            for tap in connection.execute(
                    select(TapRow.id, TapRow.student_id, TapRow.kind, TapRow.ts, TapRow.day,
                           TapRow.direction)
                    .where(TapRow.student_id.in_(students), TapRow.ts >= since,
                           TapRow.ts <= until, TapRow.code.in_(_ACCEPTED))):
                batch.seen[tap.student_id][tap.id] = (tap.kind, utc(tap.ts), tap.day,
                                                      tap.direction)

    def __call__(self, session: Session, ctx: RequestContext) -> Outcome:
        """Decide one ``tap`` inside the open transaction (the request sink's ``Handler``)."""
        self.prepare(session, [ctx])  # read nothing when the batch's prepare did
        return _decide(session, session.info["attendance.batch"], ctx)


handle_tap = TapHandler()


def _decide(session: Session, batch: _Batch, ctx: RequestContext) -> Outcome:
    tap = ctx.request
    connection = session.connection()
    school = batch.schools[ctx.school]
    local = tap.ts.astimezone(ZoneInfo(school.timezone))
    gate = tap.device.startswith("gate")
    row = TapRow(id=str(tap.id), school=ctx.school, edge=ctx.edge, device=tap.device,
                 card=tap.card, ts=tap.ts.astimezone(UTC), day=local.date(),
                 kind="gate" if gate else "door", direction="", period=None)
    found = batch.cards[tap.card]
    if found is None or found.school != ctx.school:
        return _done(session, batch, row, Outcome(Code.DECLINED_UNKNOWN_CARD))
    student = _Student(found.id, found.code, found.full_name)
    row.student_id = student.id
    if found.status != CARD_ACTIVE or not found.active:
        return _done(session, batch, row, Outcome(Code.DECLINED_CARD_BLOCKED))
    klass = _Class(found.class_id, found.name) if found.class_id is not None else None
    periods = batch.periods[(found.class_id, local.weekday())] if klass is not None else []
    grace = timedelta(minutes=school.late_grace_min)
    window = timedelta(seconds=school.duplicate_window_s)
    recent = any(kind == row.kind and abs(ts - row.ts) <= window
                 for kind, ts, _, _ in batch.seen[student.id].values())
    records = batch.days[(student.id, row.day)]
    if gate:
        row.direction = _direction(batch, tap.device, student.id, row.day)
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
              "class": klass.name if klass is not None else "", "photo_url": found.photo_url,
              "period": period}
    record = records.get(period) if period is not None else None
    if recent or (record is not None and record.status != ABSENT):
        return _done(session, batch, row, Outcome(Code.ATTENDANCE_DUPLICATE,
                                                  {**screen, "status": "duplicate"}))
    notify = Notifier(session, ctx.school, student, klass, enabled=school.webhook)
    arrival = records.get(ARRIVAL)
    if row.direction == "out":
        if arrival is not None:
            _update(connection, arrival, left_ts=row.ts)
        notify("leave", row.day, None, PRESENT, row.ts, suffix=row.id)
    elif arrival is None:
        _add(session, records, AttendanceRow(
            school=ctx.school, student_id=student.id, class_id=found.class_id, day=row.day,
            period=ARRIVAL, status=status, first_ts=row.ts))
        notify("arrival", row.day, period, status, row.ts)
    elif status == LATE and period is not None:
        notify("late", row.day, period, status, row.ts)
    if period is not None:
        if record is None:
            _add(session, records, AttendanceRow(
                school=ctx.school, student_id=student.id, class_id=found.class_id,
                day=row.day, period=period, status=status, first_ts=row.ts))
        else:  # marked absent, then the student came (or an offline tap arrived after closing)
            _update(connection, record, status=status, first_ts=row.ts)
    code = Code.ATTENDANCE_LATE if status == LATE else Code.ATTENDANCE_PRESENT
    data = {**screen, "status": status}
    if gate:
        data["direction"] = row.direction
    return _done(session, batch, row, Outcome(code, data))


def _done(session: Session, batch: _Batch, row: TapRow, outcome: Outcome) -> Outcome:
    row.code = outcome.code.value
    session.add(row)
    if row.student_id is not None and row.code in _ACCEPTED:
        batch.seen[row.student_id][row.id] = (row.kind, row.ts, row.day, row.direction)
    return outcome


def _add(session: Session, records: dict[int, _Record], row: AttendanceRow) -> None:
    session.add(row)
    records[row.period] = _Record(row.status, row=row)


def _update(connection: Connection, record: _Record, **values: Any) -> None:
    if record.row is not None:  # added in this transaction: the ORM writes it at the flush
        for name, value in values.items():
            setattr(record.row, name, value)
    else:
        connection.execute(update(AttendanceRow).where(AttendanceRow.id == record.id)
                           .values(**values))
    record.status = values.get("status", record.status)


def _at(local: datetime, moment: time) -> datetime:
    return datetime.combine(local.date(), moment, tzinfo=local.tzinfo)


def _current(periods: list[Any], local: datetime) -> Any:
    for entry in periods:
        if _at(local, entry.starts) - EARLY <= local < _at(local, entry.ends):
            return entry
    return None


def _direction(batch: _Batch, device: str, student_id: int, day: date) -> str:
    if device.startswith("gate-in"):
        return "in"
    if device.startswith("gate-out"):
        return "out"
    gates = [(ts, direction) for kind, ts, tap_day, direction in batch.seen[student_id].values()
             if kind == "gate" and tap_day == day]
    return "out" if gates and max(gates)[1] == "in" else "in"


class Notifier:
    """Writes parents' notifications for one student to the outbox, if the school has a webhook."""

    def __init__(self, session: Session, school: str, student: StudentRow | _Student,
                 klass: ClassRow | _Class | None, enabled: bool | None = None) -> None:
        self.session, self.school, self.student, self.klass = session, school, student, klass
        self.enabled = enabled if enabled is not None \
            else session.get(SchoolWebhookRow, school) is not None

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
