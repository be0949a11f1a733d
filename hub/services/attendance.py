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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, insert, select, update
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
from hub.db.people import CARD_ACTIVE, ClassRow, StudentRow, TimetableRow
from hub.services.attendance_batch import ACCEPTED, Batch, Record, read
from hub.services.attendance_roster import Period, SchoolCache
from hub.services.batch_sql import insert_rows
from hub.services.requests import Outcome, RequestContext
from protocol import Code

#: A tap this long before a period starts counts for it (students wait at the door in the break).
EARLY = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class _Student:
    id: int
    code: str
    full_name: str


@dataclass(frozen=True, slots=True)
class _Class:
    id: int
    name: str


class TapHandler:
    """The ``tap`` handler: ``prepare`` reads what a batch needs, the call decides one tap,
    ``finish`` writes the batch's taps, records and notifications in one statement each.

    Called alone (not by a request sink that prepared the batch), a call writes its tap at once.
    """

    def __init__(self) -> None:
        #: Rules, cards and timetables kept between transactions (:mod:`attendance_roster`).
        self.schools = SchoolCache()

    def prepare(self, session: Session, contexts: list[RequestContext]) -> None:
        """Read what the taps of ``contexts`` need in a few statements; the caller (the request
        sink) then calls ``finish`` before it commits, so the writes wait for it."""
        batch = _batch_of(session)
        batch.deferred = True
        read(session.connection(), batch, self.schools, contexts)

    def __call__(self, session: Session, ctx: RequestContext) -> Outcome:
        """Decide one ``tap`` inside the open transaction (the request sink's ``Handler``)."""
        batch = _batch_of(session)
        connection = session.connection()
        read(connection, batch, self.schools, [ctx])  # reads nothing when prepare did
        outcome = _decide(connection, batch, ctx)
        if not batch.deferred:
            _write(connection, batch)
        return outcome

    def finish(self, session: Session) -> None:
        """Insert what the decisions of this transaction left pending."""
        batch: Batch | None = session.info.get(_BATCH_KEY)
        if batch is not None:
            _write(session.connection(), batch)


handle_tap = TapHandler()

_BATCH_KEY = "attendance.batch"


def _batch_of(session: Session) -> Batch:
    batch: Batch = session.info.setdefault(_BATCH_KEY, Batch())
    return batch


#: ``inline``: nothing is read back (no RETURNING of ids), so on PostgreSQL the request sink can
#: send them with its commit in one round trip (:func:`hub.services.batch_sql.pipelined`).
_INSERT_RECORDS = insert(AttendanceRow).inline()
_INSERT_TAPS = insert(TapRow).inline()
_INSERT_NOTIFICATIONS = insert(NotificationRow).inline()


def _write(connection: Connection, batch: Batch) -> None:
    if batch.records:
        insert_rows(connection, _INSERT_RECORDS, batch.records)
        for records in batch.days.values():  # written: a later change is an UPDATE
            for record in records.values():
                record.pending = None
    insert_rows(connection, _INSERT_TAPS, batch.taps)
    insert_rows(connection, _INSERT_NOTIFICATIONS, batch.notifications)
    batch.records, batch.taps, batch.notifications = [], [], []


def _decide(connection: Connection, batch: Batch, ctx: RequestContext) -> Outcome:
    tap = ctx.request
    school = batch.schools[ctx.school]
    local = tap.ts.astimezone(ZoneInfo(school.timezone))
    gate = tap.device.startswith("gate")
    ts, day = tap.ts.astimezone(UTC), local.date()
    row: dict[str, Any] = {
        "id": str(tap.id), "school": ctx.school, "edge": ctx.edge, "device": tap.device,
        "card": tap.card, "student_id": None, "ts": ts, "day": day,
        "kind": "gate" if gate else "door", "direction": "", "period": None, "code": ""}
    found = batch.rosters[ctx.school].cards[tap.card]
    if found is None:
        return _done(batch, row, Outcome(Code.DECLINED_UNKNOWN_CARD))
    student = _Student(found.student_id, found.code, found.full_name)
    row["student_id"] = student.id
    if found.status != CARD_ACTIVE or not found.active:
        return _done(batch, row, Outcome(Code.DECLINED_CARD_BLOCKED))
    klass: _Class | None = None
    periods: list[Period] = []
    if found.class_id is not None:
        klass = _Class(found.class_id, found.class_name or "")
        periods = batch.rosters[ctx.school].periods[(found.class_id, local.weekday())]
    grace = timedelta(minutes=school.late_grace_min)
    window = timedelta(seconds=school.duplicate_window_s)
    recent = any(kind == row["kind"] and abs(seen_ts - ts) <= window
                 for kind, seen_ts, _, _ in batch.seen[student.id].values())
    records = batch.days[(student.id, day)]
    if gate:
        direction = row["direction"] = _direction(batch, tap.device, student.id, day)
        period = None
        first = periods[0] if periods else None
        status = LATE if first is not None and _at(local, first.starts) + grace <= local \
            else PRESENT
    else:
        direction = ""
        current = _current(periods, local)
        period = current.period if current is not None else None
        status = LATE if current is not None and _at(local, current.starts) + grace <= local \
            else PRESENT
    row["period"] = period
    screen = {"student": student.code, "name": student.full_name,
              "class": klass.name if klass is not None else "", "photo_url": found.photo_url,
              "period": period}
    record = records.get(period) if period is not None else None
    if recent or (record is not None and record.status != ABSENT):
        return _done(batch, row, Outcome(Code.ATTENDANCE_DUPLICATE,
                                         {**screen, "status": "duplicate"}))
    notify = Notifier(batch.notifications.append, ctx.school, student, klass,
                      enabled=school.webhook)
    arrival = records.get(ARRIVAL)
    if direction == "out":
        if arrival is not None:
            _update(connection, student.id, day, ARRIVAL, arrival, left_ts=ts)
        notify("leave", day, None, PRESENT, ts, suffix=row["id"])
    elif arrival is None:
        _add(batch, records, ctx.school, student.id, found.class_id, day, ARRIVAL, status, ts)
        notify("arrival", day, period, status, ts)
    elif status == LATE and period is not None:
        notify("late", day, period, status, ts)
    if period is not None:
        if record is None:
            _add(batch, records, ctx.school, student.id, found.class_id, day, period, status, ts)
        else:  # marked absent, then the student came (or an offline tap arrived after closing)
            _update(connection, student.id, day, period, record, status=status, first_ts=ts)
    code = Code.ATTENDANCE_LATE if status == LATE else Code.ATTENDANCE_PRESENT
    data = {**screen, "status": status}
    if gate:
        data["direction"] = direction
    return _done(batch, row, Outcome(code, data))


def _done(batch: Batch, row: dict[str, Any], outcome: Outcome) -> Outcome:
    row["code"] = code = outcome.code.value
    batch.taps.append(row)
    student_id = row["student_id"]
    if student_id is not None and code in ACCEPTED:
        batch.seen[student_id][row["id"]] = (row["kind"], row["ts"], row["day"], row["direction"])
    return outcome


def _add(batch: Batch, records: dict[int, Record], school: str, student_id: int,
         class_id: int | None, day: date, period: int, status: str, ts: datetime) -> None:
    pending = {"school": school, "student_id": student_id, "class_id": class_id, "day": day,
               "period": period, "status": status, "first_ts": ts, "left_ts": None}
    batch.records.append(pending)
    records[period] = Record(status, pending)


def _update(connection: Connection, student_id: int, day: date, period: int, record: Record,
            **values: Any) -> None:
    if record.pending is not None:  # not written yet: the insert will carry the change
        record.pending.update(values)
    else:  # by its unique key: a record written earlier in this transaction has no id here
        connection.execute(update(AttendanceRow).where(
            AttendanceRow.student_id == student_id, AttendanceRow.day == day,
            AttendanceRow.period == period).values(**values))
    record.status = values.get("status", record.status)


def _at(local: datetime, moment: time) -> datetime:
    return datetime.combine(local.date(), moment, tzinfo=local.tzinfo)


def _current(periods: list[Period], local: datetime) -> Period | None:
    for entry in periods:
        if _at(local, entry.starts) - EARLY <= local < _at(local, entry.ends):
            return entry
    return None


def _direction(batch: Batch, device: str, student_id: int, day: date) -> str:
    if device.startswith("gate-in"):
        return "in"
    if device.startswith("gate-out"):
        return "out"
    gates = [(ts, direction) for kind, ts, tap_day, direction in batch.seen[student_id].values()
             if kind == "gate" and tap_day == day]
    return "out" if gates and max(gates)[1] == "in" else "in"


class Notifier:
    """Writes parents' notifications for one student to the outbox, if the school has a webhook.

    ``queue`` takes each notification as the column values of its outbox row: the tap handler
    collects them to insert with its batch, :func:`mark_absences` adds them to its session."""

    def __init__(self, queue: Callable[[dict[str, Any]], None], school: str,
                 student: StudentRow | _Student, klass: ClassRow | _Class | None,
                 enabled: bool) -> None:
        self.queue, self.school, self.student, self.klass = queue, school, student, klass
        self.enabled = enabled

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
        self.queue({"key": key, "school": self.school, "kind": kind,
                    "payload": json.dumps(body, ensure_ascii=False), "attempts": 0,
                    "next_attempt_at": datetime.now(UTC), "sent_at": None, "last_error": ""})


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
        webhook = session.get(SchoolWebhookRow, school) is not None

        def outbox(values: dict[str, Any]) -> None:
            session.add(NotificationRow(**values))

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
                Notifier(outbox, school, student, klass, enabled=webhook)(
                    "absence", day, entry.period, ABSENT, None)
                done.add((student.id, entry.period))
                written += 1
    return written
