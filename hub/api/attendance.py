"""Attendance API: a class's day, a student's history, closing periods (marking absences).

Closing is explicit: ``POST /api/v1/schools/{school}/attendance/close?date=&period=`` after each
period (a school's timer, cron or the staff page calls it). Without ``period`` it closes every
period of that day that has ended by now (today) or all of them (a past day). It is idempotent.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.api.people import Db, SchoolId, Staff, StaffOrParent, visible_student
from hub.auth import forbid_unless
from hub.db.attendance import ARRIVAL, AttendanceRow
from hub.db.people import StudentRow
from hub.services.attendance import mark_absences
from hub.services.people import manage
from hub.services.people.manage import PeopleError

router = APIRouter(prefix="/api/v1", tags=["attendance"])
MAX_HISTORY_DAYS = 400


def _record(row: AttendanceRow) -> dict[str, Any]:
    return {"date": row.day.isoformat(), "period": row.period or None, "status": row.status,
            "first_ts": row.first_ts, "left_ts": row.left_ts}


@router.get("/schools/{school}/classes/{class_name}/attendance")
def class_attendance(school: SchoolId, class_name: str, session: Db,
                     day: Annotated[date, Query(alias="date")],
                     caller: Staff) -> dict[str, Any]:
    """Every student of the class with their arrival and their status per period that day."""
    forbid_unless(caller.can_see_school(school))
    klass = manage.class_named(session, school, class_name, create=False)
    students = list(session.scalars(select(StudentRow).where(
        StudentRow.class_id == klass.id).order_by(StudentRow.code)))
    records: dict[int, list[AttendanceRow]] = {}
    for row in session.scalars(select(AttendanceRow).where(
            AttendanceRow.student_id.in_([s.id for s in students]), AttendanceRow.day == day)
            .order_by(AttendanceRow.period)):
        records.setdefault(row.student_id, []).append(row)
    out = []
    for student in students:
        mine = records.get(student.id, [])
        arrival = next((r for r in mine if r.period == ARRIVAL), None)
        out.append({
            "student": student.code, "name": student.full_name,
            "arrival": _record(arrival) if arrival is not None else None,
            "periods": {str(r.period): r.status for r in mine if r.period != ARRIVAL},
        })
    return {"school": school, "class": klass.name, "date": day.isoformat(), "students": out}


@router.get("/schools/{school}/students/{code}/attendance")
def student_history(school: SchoolId, code: str, session: Db,
                    start: Annotated[date, Query(alias="from")],
                    end: Annotated[date, Query(alias="to")],
                    caller: StaffOrParent) -> dict[str, Any]:
    """A student's records between two dates, inclusive (a parent: their own child only)."""
    student = visible_student(session, caller, school, code)
    if end < start or (end - start).days > MAX_HISTORY_DAYS:
        raise HTTPException(422, {"vi": f"Khoảng ngày không hợp lệ (tối đa {MAX_HISTORY_DAYS})",
                                  "en": f"Bad date range (at most {MAX_HISTORY_DAYS} days)"})
    rows = session.scalars(select(AttendanceRow).where(
        AttendanceRow.student_id == student.id, AttendanceRow.day >= start,
        AttendanceRow.day <= end).order_by(AttendanceRow.day, AttendanceRow.period))
    return {"student": student.code, "name": student.full_name,
            "records": [_record(r) for r in rows]}


@router.post("/schools/{school}/attendance/close")
def close_periods(school: SchoolId, request: Request, caller: Staff,
                  day: Annotated[date, Query(alias="date")],
                  period: Annotated[int | None, Query(ge=1, le=15)] = None) -> dict[str, Any]:
    """Mark absent the students without a record for the period(s) closed."""
    forbid_unless(caller.can_see_school(school))
    engine = request.app.state.engine
    up_to: time | None = None
    if period is None:
        with Session(engine) as session:
            try:
                zone = ZoneInfo(manage.get_school(session, school).timezone)
            except PeopleError as error:
                raise HTTPException(error.status, {"vi": error.vi, "en": error.en}) from None
        now = datetime.now(zone)
        up_to = now.time() if day == now.date() else None
        if day > now.date():
            up_to = time(0, 0)  # nothing of a future day has ended
    marked = mark_absences(engine, school, day, up_to, period=period)
    return {"school": school, "date": day.isoformat(), "period": period, "marked_absent": marked}

