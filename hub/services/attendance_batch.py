"""What a batch of door taps needs to know, read in few statements and round trips.

Once the hub is warm, one round trip per batch: the schools' rules and roster versions, and with
them the students' records of the day and their recent accepted taps, guessed from the rules
and rosters kept from earlier batches (:mod:`hub.services.attendance_roster`). The cards and
timetable entries a kept roster lacks, and whatever the guess missed, are read after it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    DateTime,
    Executable,
    SmallInteger,
    String,
    bindparam,
    cast,
    exists,
    null,
    select,
    union_all,
)

from hub.db.attendance import AttendanceRow, RosterVersionRow, SchoolWebhookRow, TapRow
from hub.db.people import CardRow, ClassRow, SchoolRow, StudentRow, TimetableRow
from hub.services.attendance_roster import (
    DEFAULT_SCHOOL,
    Card,
    Period,
    Roster,
    School,
    SchoolCache,
)
from hub.services.batch_sql import among, read_together
from hub.services.ledger import day_bounds, utc
from hub.services.requests import RequestContext
from protocol import Code

#: Tap answers that count as an arrival (and start the duplicate window).
ACCEPTED = (Code.ATTENDANCE_PRESENT.value, Code.ATTENDANCE_LATE.value)


@dataclass(slots=True)
class Record:
    """An attendance record as this transaction knows it (``pending``: the row it will insert)."""

    status: str
    pending: dict[str, Any] | None = None


#: An accepted tap: (kind, ts, day, direction).
Seen = tuple[str, datetime, date, str]


@dataclass(slots=True)
class Batch:
    """What a transaction knows for its taps, kept up to date by every decision, so a second
    tap of the same student in the batch sees the first one; and the rows it will insert."""

    schools: dict[str, School] = field(default_factory=dict)
    rosters: dict[str, Roster] = field(default_factory=dict)
    days: dict[tuple[int, date], dict[int, Record]] = field(default_factory=dict)
    seen: dict[int, dict[str, Seen]] = field(default_factory=dict)  # student -> tap id -> tap
    covered: dict[int, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    #: Set when the request sink prepared the batch: it calls ``finish``, so writes wait.
    deferred: bool = False
    taps: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Statements:
    schools: Executable
    cards: Executable
    periods: Executable
    known: Executable


@functools.cache
def _statements(dialect: str) -> _Statements:
    """The batch's reads for ``dialect``, built once (composing them cost more than running)."""
    return _Statements(
        schools=select(SchoolRow.id, SchoolRow.timezone, SchoolRow.late_grace_min,
                       SchoolRow.duplicate_window_s,
                       exists().where(SchoolWebhookRow.school == SchoolRow.id).label("webhook"),
                       RosterVersionRow.salt, RosterVersionRow.counter)
        .outerjoin(RosterVersionRow, RosterVersionRow.school == SchoolRow.id)
        .where(among(SchoolRow.id, "schools", dialect)),
        cards=select(CardRow.card, CardRow.status, StudentRow.id, StudentRow.school,
                     StudentRow.active, StudentRow.code, StudentRow.full_name,
                     StudentRow.photo_url, StudentRow.class_id, ClassRow.name)
        .join(StudentRow, StudentRow.id == CardRow.student_id)
        .outerjoin(ClassRow, ClassRow.id == StudentRow.class_id)
        .where(among(CardRow.card, "cards", dialect)),
        periods=select(TimetableRow.class_id, TimetableRow.weekday, TimetableRow.period,
                       TimetableRow.starts, TimetableRow.ends)
        .where(among(TimetableRow.class_id, "classes", dialect),
               among(TimetableRow.weekday, "weekdays", dialect))
        .order_by(TimetableRow.starts),
        # The students' records of the days and their accepted taps in a time span, in one
        # statement (one round trip): record rows have no tap id, tap rows no period.
        known=union_all(
            select(AttendanceRow.student_id, AttendanceRow.day, AttendanceRow.period,
                   AttendanceRow.status, cast(null(), String).label("tap"),
                   cast(null(), String).label("kind"),
                   cast(null(), DateTime(timezone=True)).label("ts"),
                   cast(null(), String).label("direction"))
            .where(among(AttendanceRow.student_id, "record_students", dialect),
                   among(AttendanceRow.day, "days", dialect)),
            select(TapRow.student_id, TapRow.day, cast(null(), SmallInteger),
                   cast(null(), String), TapRow.id, TapRow.kind, TapRow.ts, TapRow.direction)
            .where(among(TapRow.student_id, "tap_students", dialect),
                   TapRow.ts >= bindparam("since"), TapRow.ts <= bindparam("until"),
                   among(TapRow.code, "accepted", dialect))))


#: What a tap needs read: its school's roster, card, local weekday and date, and the span of
#: time whose accepted taps decide duplicates (and a gate's direction).
_Wanted = tuple[Roster, str, int, date, datetime, datetime]
#: The same with the card found: (roster, card, weekday, day, since, until).
_Known = tuple[Roster, Card, int, date, datetime, datetime]


def read(connection: Connection, batch: Batch, cache: SchoolCache,
         contexts: list[RequestContext]) -> None:
    """Read what ``batch`` lacks for the taps of ``contexts``."""
    missing = sorted({ctx.school for ctx in contexts} - batch.schools.keys())
    if missing:
        _read_schools(connection, batch, cache, missing, contexts)
    wanted = _wanted(batch.schools, batch.rosters, contexts)
    _read_cards(connection, cache, batch, {(ctx.school, ctx.request.card) for ctx in contexts})
    known = _with_cards(wanted)
    _read_periods(connection, {(roster, card.class_id, weekday) for roster, card, weekday, *_
                               in known if card.class_id is not None})
    days, spans = _unread(batch, known)
    if days or spans:
        (rows,) = read_together(connection, (_statements(connection.dialect.name).known,
                                             _known_params(days, spans)))
        _apply_known(batch, days, spans, rows)


def _wanted(schools: dict[str, School], rosters: dict[str, Roster],
            contexts: list[RequestContext]) -> list[_Wanted]:
    wanted = []
    for ctx in contexts:
        school = schools[ctx.school]
        local = ctx.request.ts.astimezone(ZoneInfo(school.timezone))
        window = timedelta(seconds=school.duplicate_window_s)
        ts = ctx.request.ts.astimezone(UTC)
        since, until = ts - window, ts + window
        if ctx.request.device.startswith("gate"):  # its direction follows the day's taps
            start, end = day_bounds(ts, school.timezone)
            since, until = min(since, start), max(until, end)
        wanted.append((rosters[ctx.school], ctx.request.card, local.weekday(), local.date(),
                       since, until))
    return wanted


def _with_cards(wanted: list[_Wanted]) -> list[_Known]:
    """The taps of ``wanted`` whose card the roster knows (so far) as one of the school's."""
    known: list[_Known] = []
    for roster, name, weekday, day, since, until in wanted:
        card = roster.cards.get(name)
        if card is not None:
            known.append((roster, card, weekday, day, since, until))
    return known


def _unread(batch: Batch, known: list[_Known],
            ) -> tuple[set[tuple[int, date]], list[tuple[int, datetime, datetime]]]:
    """The (student, day) records and the (student, since, until) taps ``batch`` lacks."""
    days = {(card.student_id, day) for _, card, _, day, *_ in known
            if (card.student_id, day) not in batch.days}
    spans = [(card.student_id, since, until) for _, card, _, _, since, until in known
             if not any(a <= since and until <= b
                        for a, b in batch.covered.get(card.student_id, ()))]
    return days, spans


def _read_schools(connection: Connection, batch: Batch, cache: SchoolCache,
                  missing: list[str], contexts: list[RequestContext]) -> None:
    """Read the rules and roster versions of ``missing`` schools. When all of them are kept
    from earlier batches, the records and recent taps the batch's students need by the kept
    rules and rosters come in the same round trip: what they say stays true whatever changed
    since (a card never changes student), and whatever the rules read now need beyond them is
    read after, by :func:`read`."""
    statements = _statements(connection.dialect.name)
    reads: list[tuple[Executable, dict[str, Any]]] = [(statements.schools,
                                                       {"schools": missing})]
    kept = {school: cache.kept(connection.engine, school) for school in missing}
    guess = None
    if all(found is not None for found in kept.values()):
        rules = batch.schools | {school: found[0] for school, found in kept.items() if found}
        rosters = batch.rosters | {school: found[1] for school, found in kept.items() if found}
        days, spans = _unread(batch, _with_cards(_wanted(rules, rosters, contexts)))
        if days or spans:
            guess = days, spans
            reads.append((statements.known, _known_params(days, spans)))
    results = read_together(connection, *reads)
    rows = {row.id: row for row in results[0]}
    for school in missing:
        row = rows.get(school)
        if row is None:
            batch.schools[school], batch.rosters[school] = DEFAULT_SCHOOL, Roster(None)
            continue
        rules_read = School(row.timezone, row.late_grace_min, row.duplicate_window_s,
                            bool(row.webhook))
        version = (row.salt, row.counter) if row.salt is not None else None
        batch.schools[school] = rules_read
        batch.rosters[school] = cache.settle(connection.engine, school, rules_read, version)
    if guess is not None:
        _apply_known(batch, *guess, results[1])


def _read_cards(connection: Connection, cache: SchoolCache, batch: Batch,
                wanted: set[tuple[str, str]]) -> None:
    missing = [(school, card) for school, card in wanted
               if card not in batch.rosters[school].cards]
    if not missing:
        return
    (found,) = read_together(connection, (_statements(connection.dialect.name).cards,
                                          {"cards": list({c for _, c in missing})}))
    rows = {row.card: row for row in found}
    for school, card in missing:
        row = rows.get(card)
        # A card of another school is unknown here: cards never move between students.
        batch.rosters[school].cards[card] = None if row is None or row.school != school else \
            Card(row.status, row.id, row.active, row.code, row.full_name, row.photo_url,
                 row.class_id, row.name)
    cache.added(len(missing))


def _read_periods(connection: Connection, wanted: set[tuple[Roster, int, int]]) -> None:
    missing = {(roster, class_id, weekday) for roster, class_id, weekday in wanted
               if (class_id, weekday) not in roster.periods}
    if not missing:
        return
    periods: dict[tuple[int, int], list[Period]] = {}
    for roster, class_id, weekday in missing:
        periods[(class_id, weekday)] = roster.periods[(class_id, weekday)] = []
    (entries,) = read_together(connection, (_statements(connection.dialect.name).periods, {
        "classes": list({class_id for _, class_id, _ in missing}),
        "weekdays": list({weekday for _, _, weekday in missing})}))
    for entry in entries:
        found = periods.get((entry.class_id, entry.weekday))
        if found is not None:
            found.append(Period(entry.period, entry.starts, entry.ends))


def _known_params(days: set[tuple[int, date]],
                  spans: list[tuple[int, datetime, datetime]]) -> dict[str, Any]:
    since = min((s for _, s, _ in spans), default=datetime.now(UTC))
    return {"record_students": list({student for student, _ in days}),
            "days": list({day for _, day in days}),
            "tap_students": list({student for student, _, _ in spans}),
            "since": since, "until": max((u for _, _, u in spans), default=since),
            "accepted": list(ACCEPTED)}


def _apply_known(batch: Batch, days: set[tuple[int, date]],
                 spans: list[tuple[int, datetime, datetime]], rows: Sequence[Any]) -> None:
    """Note what the known-read for ``days`` and ``spans`` found."""
    for key in days:
        batch.days[key] = {}
    if spans:
        since, until = min(s for _, s, _ in spans), max(u for _, _, u in spans)
        for student, _, _ in spans:
            batch.covered.setdefault(student, []).append((since, until))
            batch.seen.setdefault(student, {})
    for row in rows:
        if row.tap is None:
            if (row.student_id, row.day) in days:
                batch.days[(row.student_id, row.day)][row.period] = Record(row.status)
        else:
            batch.seen[row.student_id][row.tap] = (row.kind, utc(row.ts), row.day, row.direction)
