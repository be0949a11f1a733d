"""Per-school sums from the records: schools, students, attendance and the canteen ledger."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, case, func, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from hub.db.attendance import ABSENT, ARRIVAL, LATE, PRESENT, AttendanceRow
from hub.db.ledger import PURCHASE, REFUND, TransactionRow
from hub.db.models import EdgeRow
from hub.db.people import SchoolRow, StudentRow
from hub.reports.figures import SchoolFigures, Totals
from hub.reports.period import ReportPeriod


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sum_if(condition: ColumnElement[bool], value: InstrumentedAttribute[int]
            ) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _only(column: InstrumentedAttribute[str], schools: list[str] | None) -> ColumnElement[bool]:
    return true() if schools is None else column.in_(schools)


def school_lines(session: Session, schools: list[str] | None) -> list[SchoolFigures]:
    """The schools in scope (registered ones, and any edge's school not registered), by id."""
    lines = {row.id: SchoolFigures(row.id, row.name, row.area, Totals(schools=1))
             for row in session.scalars(select(SchoolRow).where(_only(SchoolRow.id, schools)))}
    edges = select(EdgeRow.school).distinct().where(_only(EdgeRow.school, schools))
    for school in session.scalars(edges):
        lines.setdefault(school, SchoolFigures(school, school, "", Totals(schools=1)))
    return [lines[key] for key in sorted(lines)]


def add_records(session: Session, lines: list[SchoolFigures], period: ReportPeriod) -> None:
    """Fill students, attendance and cashless figures into ``lines``."""
    by_id = {line.school: line.totals for line in lines}
    scope = list(by_id)
    students = (select(StudentRow.school, func.count())
                .where(StudentRow.active.is_(True), _only(StudentRow.school, scope))
                .group_by(StudentRow.school))
    for school, count in session.execute(students):
        by_id[school].students = int(count)

    # Class periods only: the day's arrival (period 0) is not a period a student is expected at.
    status = AttendanceRow.status
    attendance = (select(AttendanceRow.school, _count_if(status == PRESENT),
                         _count_if(status == LATE), _count_if(status == ABSENT))
                  .where(_only(AttendanceRow.school, scope), AttendanceRow.period != ARRIVAL,
                         AttendanceRow.day >= period.first, AttendanceRow.day <= period.last)
                  .group_by(AttendanceRow.school))
    for school, present, late, absent in session.execute(attendance):
        totals = by_id[school]
        totals.present, totals.late, totals.absent = int(present), int(late), int(absent)

    tx = TransactionRow
    buy, back = tx.kind == PURCHASE, tx.kind == REFUND
    offline = and_(buy, tx.offline.is_(True))
    ledger = (select(tx.school, _count_if(buy), _sum_if(buy, tx.amount), _count_if(back),
                     _sum_if(back, tx.amount), _count_if(offline), _sum_if(offline, tx.amount),
                     _count_if(and_(buy, tx.flagged.is_(True))))
              .where(_only(tx.school, scope), tx.ts >= period.start, tx.ts < period.end,
                     tx.kind.in_([PURCHASE, REFUND]))
              .group_by(tx.school))
    for school, *sums in session.execute(ledger):
        totals = by_id[school]
        (totals.purchases, totals.purchases_vnd, totals.refunds, totals.refunds_vnd,
         totals.offline, totals.offline_vnd, totals.flagged) = (int(v) for v in sums)
