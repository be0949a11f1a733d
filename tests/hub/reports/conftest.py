"""A simulated quarter (2026-Q3) whose figures are known, produced through the real services.

THPT Lê Quý Đôn (Quận 3) and THCS Tân Thông Hội (Huyện Củ Chi) have students, timetables,
taps, closed periods, canteen sales and edge boxes; THPT Nguyễn Du (Quận 3) has only an edge.
Each ``EXPECTED_*`` figure below is worked out by hand from the data that ``seed`` writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from hub.db.engine import make_engine
from hub.db.ledger import TransactionRow
from hub.db.migrate import upgrade_to_head
from hub.db.people import CardRow, ClassRow, SchoolRow, StudentRow, TimetableRow
from hub.db.registry import apply_status
from hub.ingest.lineproto import line
from hub.services.attendance import handle_tap, mark_absences
from hub.services.ledger import refund, top_up
from hub.services.requests import RequestContext
from hub.services.wallet import handle_pay
from protocol import EdgeState, Pay, Status, Tap
from protocol.topics import Topic, TopicKind
from smartschool_cli.localservers.influxdb import InfluxDB1

QUARTER = "2026-Q3"
LQD, CU_CHI, NGUYEN_DU = "thpt-le-quy-don", "thcs-tan-thong-hoi", "thpt-nguyen-du"
Q3, CC = "Quận 3", "Huyện Củ Chi"
MAI_ANH, BAO, PHUC = "em:0F00A1B2C3", "nfc:04A1B2C3D4E5F6", "nfc:04A1B2C3"
HAN, KHANG = "em:0F00A1B2C4", "em:0F00A1B2C5"
#: Hours in 2026-Q3 (1/7 to 30/9: 92 days).
QUARTER_H = 92 * 24


def at(stamp: str) -> datetime:
    """A moment in Ho Chi Minh City."""
    return datetime.fromisoformat(f"{stamp}+07:00")


# Attendance (class periods only; arrivals are not periods):
#   LQĐ, Monday 6/7: period 1 Mai Anh present, Bảo late, Phúc absent;
#                    period 2 Mai Anh present, Phúc late, Bảo absent.
#   Củ Chi, Monday 28/9: period 1 Hân present, Khang absent.
#   Taps on 29/6 (Q2) and 5/10 (Q4) count nowhere.
EXPECTED_ATTENDANCE = {LQD: (2, 2, 2), CU_CHI: (1, 0, 1), NGUYEN_DU: (0, 0, 0)}
# Canteen, LQĐ: Q3 purchases 25.000 + 15.000 (online) + 20.000 (offline); refunds in Q3 of the
# 15.000 and of a Q2 purchase of 10.000; a Q4 purchase of 30.000 counts nowhere.
#   (purchases, đồng, refunds, đồng, offline, đồng)
EXPECTED_CASH = {LQD: (3, 60_000, 2, 25_000, 1, 20_000), CU_CHI: (1, 12_000, 0, 0, 0, 0)}
# Edges (hours observed, hours online) over the quarter:
#   lqd/lop-10a1: online since June, offline 1/8 00:00 to 3/8 00:00 (48 h), a stale Will ignored.
#   lqd/can-tin: first birth 1/9 00:00 (720 h observed), offline 30/9 12:00 (12 h before end).
#   cu-chi/cong: offline since 15/6, online from 16/7 00:00 (77 days), offline again in Q4.
#   nguyen-du/cong: online since May.
EXPECTED_EDGES = {
    (LQD, "lop-10a1"): (QUARTER_H, QUARTER_H - 48),
    (LQD, "can-tin"): (720, 708),
    (CU_CHI, "cong"): (QUARTER_H, 77 * 24),
    (NGUYEN_DU, "cong"): (QUARTER_H, QUARTER_H),
}
# CO2, 10-minute means per room: (intervals measured, intervals over 1500 ppm, peak mean).
#   LQĐ 10A1 on 5/8 09:00-10:00: 1800, 1800, 1800, 1400, mean 1450, mean 1525 -> 4 of 6 over.
#   LQĐ "Căn tin" (a space in the tag): exactly 1500 ppm -> not over.
#   Củ Chi 6A1: two sensors 1700 and 1200 (mean 1450), then 2000 alone -> 1 of 2 over.
#   Readings just before the quarter and in Q4 (3000 ppm) count nowhere.
EXPECTED_ROOMS = {(LQD, "10A1"): (6, 4, 1800.0), (LQD, "Căn tin"): (1, 0, 1500.0),
                  (CU_CHI, "6A1"): (2, 1, 2000.0)}


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Each report test runs on SQLite and on PostgreSQL."""
    return sqlite_url if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


def _school(session: Session, school: str, name: str, area: str, klass: str,
            students: list[tuple[str, str, str]], periods: int) -> dict[str, int]:
    session.add(SchoolRow(id=school, name=name, area=area))
    session.flush()
    row = ClassRow(school=school, name=klass, room=klass)
    session.add(row)
    session.flush()
    for number in range(1, periods + 1):
        starts = time(7, 0) if number == 1 else time(7, 50)
        ends = time(7, 45) if number == 1 else time(8, 35)
        session.add(TimetableRow(class_id=row.id, weekday=0, period=number, starts=starts,
                                 ends=ends, subject="Toán", room=klass))
    ids = {}
    for code, full_name, card in students:
        student = StudentRow(school=school, code=code, full_name=full_name, class_id=row.id)
        session.add(student)
        session.flush()
        session.add(CardRow(card=card, student_id=student.id))
        ids[card] = student.id
    session.flush()
    return ids


def _tap(engine: Engine, school: str, card: str, stamp: str) -> str:
    tap = Tap(id=uuid.uuid4(), ts=at(stamp), device="door-1", card=card)
    with Session(engine) as session, session.begin():
        return handle_tap(session, RequestContext(school, "door", tap, datetime.now(UTC))).code.value


def _pay(engine: Engine, school: str, card: str, amount: int, stamp: str,
         offline: bool = False) -> int:
    pay = Pay(id=uuid.uuid4(), ts=at(stamp), device="till-1", card=card, amount=amount,
              offline=offline)
    with Session(engine) as session, session.begin():
        outcome = handle_pay(session, RequestContext(school, "can-tin", pay, datetime.now(UTC)))
        assert outcome.code.value == "approved", outcome
        return int(session.execute(select(TransactionRow.id).where(
            TransactionRow.reference == f"req:{pay.id}")).scalar_one())


def _refund(engine: Engine, transaction_id: int, stamp: str) -> None:
    with Session(engine) as session, session.begin():
        posted = refund(session, transaction_id=transaction_id, created_by="staff:ke-toan")
        # The ledger stamps refunds with the hub's clock; the simulation sets when it happened.
        session.execute(update(TransactionRow).where(TransactionRow.id == posted.transaction_id)
                        .values(ts=at(stamp).astimezone(UTC)))


def _status(engine: Engine, school: str, edge: str, state: EdgeState, stamp: str) -> None:
    with Session(engine) as session, session.begin():
        apply_status(session, Topic(school, edge, TopicKind.STATUS),
                     Status(ts=at(stamp), state=state, fw="2.0.1"))


def seed(engine: Engine) -> None:
    """Write the simulated quarter through the services that write real data."""
    with Session(engine) as session, session.begin():
        lqd = _school(session, LQD, "THPT Lê Quý Đôn", Q3, "10A1", [
            ("HS0001", "Nguyễn Thị Mai Anh", MAI_ANH), ("HS0002", "Trần Quốc Bảo", BAO),
            ("HS0003", "Lê Hoàng Phúc", PHUC)], periods=2)
        _school(session, CU_CHI, "THCS Tân Thông Hội", CC, "6A1", [
            ("HS0101", "Phạm Ngọc Hân", HAN), ("HS0102", "Võ Minh Khang", KHANG)], periods=1)
        session.add(SchoolRow(id=NGUYEN_DU, name="THPT Nguyễn Du", area=Q3))
        session.flush()
        top_up(session, school=LQD, student_id=lqd[MAI_ANH], amount=500_000, channel="cash",
               reference="cash:PT-0001", created_by="staff:van-phong", ts=at("2026-06-01T08:00"))
    for card, stamp in ((MAI_ANH, "2026-07-06T06:55"), (BAO, "2026-07-06T07:15"),
                        (MAI_ANH, "2026-07-06T07:50"), (PHUC, "2026-07-06T08:05"),
                        (MAI_ANH, "2026-06-29T06:55"), (MAI_ANH, "2026-10-05T06:55")):
        assert _tap(engine, LQD, card, stamp).startswith("attendance.")
    assert _tap(engine, CU_CHI, HAN, "2026-09-28T06:58") == "attendance.present"
    assert mark_absences(engine, LQD, date(2026, 7, 6)) == 2
    assert mark_absences(engine, CU_CHI, date(2026, 9, 28)) == 1

    with Session(engine) as session, session.begin():
        khang = session.execute(select(StudentRow.id).where(
            StudentRow.code == "HS0102")).scalar_one()
        top_up(session, school=CU_CHI, student_id=khang, amount=50_000, channel="cash",
               reference="cash:CC-0001", created_by="staff:van-phong", ts=at("2026-07-01T07:00"))
    earlier = _pay(engine, LQD, MAI_ANH, 10_000, "2026-06-26T11:30")
    _pay(engine, LQD, MAI_ANH, 25_000, "2026-07-06T11:30")
    refunded = _pay(engine, LQD, MAI_ANH, 15_000, "2026-08-12T11:35")
    _pay(engine, LQD, MAI_ANH, 20_000, "2026-09-15T11:40", offline=True)
    _pay(engine, LQD, MAI_ANH, 30_000, "2026-10-06T11:30")
    _pay(engine, CU_CHI, KHANG, 12_000, "2026-09-30T23:59")  # the quarter's last minute
    _refund(engine, earlier, "2026-07-02T09:00")
    _refund(engine, refunded, "2026-08-12T13:00")

    on, off = EdgeState.ONLINE, EdgeState.OFFLINE
    for school, edge, state, stamp in (
            (LQD, "lop-10a1", on, "2026-06-20T07:00"), (LQD, "lop-10a1", off, "2026-08-01T00:00"),
            (LQD, "lop-10a1", on, "2026-08-03T00:00"),
            (LQD, "lop-10a1", off, "2026-08-02T00:00"),  # a stale Will: older than the birth
            (LQD, "can-tin", on, "2026-09-01T00:00"), (LQD, "can-tin", off, "2026-09-30T12:00"),
            (CU_CHI, "cong", on, "2026-06-01T07:00"), (CU_CHI, "cong", off, "2026-06-15T17:00"),
            (CU_CHI, "cong", on, "2026-07-16T00:00"), (CU_CHI, "cong", on, "2026-08-16T00:00"),
            (CU_CHI, "cong", off, "2026-10-10T00:00"), (NGUYEN_DU, "cong", on, "2026-05-01T06:00")):
        _status(engine, school, edge, state, stamp)


def write_co2(influx: InfluxDB1, db: str) -> None:
    """The CO2 readings of ``EXPECTED_ROOMS``, as the hub writes them (line protocol)."""
    points: list[tuple[str, str, str, float, datetime]] = []
    start = at("2026-08-05T09:00")
    for minute in range(60):
        ppm = {0: 1800.0, 1: 1800.0, 2: 1800.0, 3: 1400.0}.get(minute // 10)
        if ppm is None:  # 09:40 alternates 1600/1300 (1450), 09:50 alternates 1450/1600 (1525)
            ppm = (1600.0, 1300.0)[minute % 2] if minute < 50 else (1450.0, 1600.0)[minute % 2]
        points.append((LQD, "lop-10a1", "10A1", ppm, start.replace(minute=minute)))
    points.append((LQD, "can-tin", "Căn tin", 1500.0, at("2026-08-05T11:31")))
    points += [(CU_CHI, "cong", "6A1", 1700.0, at("2026-09-10T08:01")),
               (CU_CHI, "lop-6a1", "6A1", 1200.0, at("2026-09-10T08:05")),
               (CU_CHI, "cong", "6A1", 2000.0, at("2026-09-10T08:12")),
               (LQD, "lop-10a1", "10A1", 3000.0, at("2026-06-30T23:55")),
               (LQD, "lop-10a1", "10A1", 3000.0, at("2026-10-01T00:00"))]
    lines = [line("co2", {"school": school, "edge": edge, "device": f"co2-{edge}", "room": room},
                  {"co2_ppm": ppm, "temp_c": 29.5}, seq, ts)
             for seq, (school, edge, room, ppm, ts) in enumerate(points)]
    influx.write(db, lines)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated database holding the simulated quarter."""
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    seed(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def co2_db(influx_db: tuple[InfluxDB1, str]) -> tuple[InfluxDB1, str]:
    """The InfluxDB database with the quarter's CO2 readings."""
    influx, db = influx_db
    write_co2(influx, db)
    return influx, db
