"""The tap handler on a real database: present, late, duplicate, unknown, blocked, gates,
absences."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.db.attendance import AttendanceRow, TapRow
from hub.db.people import StudentRow
from hub.services.attendance import mark_absences
from protocol import Code
from tests.hub.attendance.conftest import BAO, LOST, MAI_ANH, PHUC, at, tap
from tests.hub.people.samples import SCHOOL

MONDAY = date(2026, 11, 23)
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def clock(ts: datetime | None) -> str | None:
    """Local wall-clock time of a stored timestamp (SQLite gives it back naive, in UTC)."""
    if ts is None:
        return None
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(HCM).strftime("%H:%M")


def _records(engine: Engine, code: str) -> dict[int, tuple[str, str | None]]:
    with Session(engine) as session:
        rows = session.execute(
            select(AttendanceRow.period, AttendanceRow.status, AttendanceRow.first_ts)
            .join(StudentRow, StudentRow.id == AttendanceRow.student_id)
            .where(StudentRow.code == code, AttendanceRow.day == MONDAY)).all()
    return {p: (s, clock(ts)) for p, s, ts in rows}


def test_present_late_and_duplicate_by_the_tap_time(engine: Engine) -> None:
    first = tap(engine, MAI_ANH, at("06:52:10"))  # 8 min before period 1: counts for it
    assert first.code is Code.ATTENDANCE_PRESENT
    assert first.data == {"student": "HS0001", "name": "Nguyễn Thị Mai Anh", "class": "10A1",
                          "photo_url": "", "period": 1, "status": "present"}
    again = tap(engine, MAI_ANH, at("06:55:00"))  # within the 300 s window
    assert again.code is Code.ATTENDANCE_DUPLICATE and again.data["status"] == "duplicate"
    later = tap(engine, MAI_ANH, at("07:30:00"))  # outside the window, same period
    assert later.code is Code.ATTENDANCE_DUPLICATE and later.data["period"] == 1
    assert tap(engine, BAO, at("07:09:59")).code is Code.ATTENDANCE_PRESENT  # within the grace
    late = tap(engine, BAO, at("07:52:00"))  # period 2 started 07:50: still present
    assert late.code is Code.ATTENDANCE_PRESENT and late.data["period"] == 2
    very_late = tap(engine, MAI_ANH, at("08:01:00"))  # 07:50 + 10 min grace passed
    assert very_late.code is Code.ATTENDANCE_LATE and very_late.data["status"] == "late"
    assert _records(engine, "HS0001") == {0: ("present", "06:52"), 1: ("present", "06:52"),
                                          2: ("late", "08:01")}
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(TapRow)) == 6


def test_unknown_and_blocked_cards_are_declined_and_kept(engine: Engine) -> None:
    assert tap(engine, "em:00000000AA", at("07:00")).code is Code.DECLINED_UNKNOWN_CARD
    blocked = tap(engine, LOST, at("07:00"))
    assert blocked.code is Code.DECLINED_CARD_BLOCKED and blocked.data == {}
    assert _records(engine, "HS0001") == {}
    with Session(engine) as session:
        codes = sorted(session.scalars(select(TapRow.code)))
    assert codes == ["declined.card_blocked", "declined.unknown_card"]


def test_no_period_records_the_arrival_and_gates_alternate(engine: Engine) -> None:
    early = tap(engine, PHUC, at("06:15"))  # too early for period 1 of 11C3
    assert early.code is Code.ATTENDANCE_PRESENT and early.data["period"] is None
    assert _records(engine, "HS0003") == {0: ("present", "06:15")}
    # Gates: the first tap of the day goes in, the next one out (a plain "gate-1").
    gate_in = tap(engine, BAO, at("06:40"), device="gate-1")
    assert gate_in.data["direction"] == "in" and gate_in.code is Code.ATTENDANCE_PRESENT
    gate_out = tap(engine, BAO, at("11:30"), device="gate-1")
    assert gate_out.data["direction"] == "out"
    with Session(engine) as session:
        left = session.scalar(select(AttendanceRow.left_ts).join(StudentRow, StudentRow.id ==
                              AttendanceRow.student_id).where(StudentRow.code == "HS0002"))
    assert clock(left) == "11:30"
    # A named gate fixes the direction; arriving after 07:00 + grace is late.
    assert tap(engine, MAI_ANH, at("07:20"), device="gate-in-2").code is Code.ATTENDANCE_LATE


def test_absences_are_marked_once_and_a_late_offline_tap_turns_absent_into_late(
        engine: Engine) -> None:
    tap(engine, MAI_ANH, at("06:58"))
    assert mark_absences(engine, SCHOOL, MONDAY, time(7, 45)) == 3  # period 1 of both classes
    assert mark_absences(engine, SCHOOL, MONDAY, time(7, 45)) == 0  # idempotent
    assert _records(engine, "HS0002")[1] == ("absent", None)
    assert _records(engine, "HS0004") == {1: ("absent", None)}
    assert mark_absences(engine, SCHOOL, MONDAY, None, period=2) == 2  # 10A1 only has period 2
    # Bảo's door was offline: his 07:20 tap reaches the hub after the period was closed.
    offline = tap(engine, BAO, at("07:20"))
    assert offline.code is Code.ATTENDANCE_LATE and offline.data["period"] == 1
    assert _records(engine, "HS0002")[1] == ("late", "07:20")
