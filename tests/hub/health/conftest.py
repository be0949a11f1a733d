"""Fixtures of the device-health tests: a migrated database (SQLite and PostgreSQL), a school with
a Monday timetable, a webhook receiver (a real HTTP server), and live state built through the
same calls the ingest router makes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.db.people import ClassRow, SchoolRow, TimetableRow
from hub.live import LiveState
from protocol import DeviceHealth, DeviceInfo, EdgeState, Heartbeat, Status
from tests.hub.webhooks import Receiver, start_receiver, stop_receiver

SCHOOL, OTHER = "thpt-le-quy-don", "thcs-tan-binh"
EDGE = "p-10a1"
ROOM = "A101"

#: Monday 23/11/2026, 07:20 in Ho Chi Minh City: period 1 of 10A1 is running in A101.
MONDAY_LESSON = datetime.fromisoformat("2026-11-23T07:20:00+07:00")


def at(clock: str, day: str = "2026-11-23") -> datetime:
    """A moment in Ho Chi Minh City (23/11/2026 is a Monday)."""
    return datetime.fromisoformat(f"{day}T{clock}+07:00")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Each database test runs on SQLite and on PostgreSQL."""
    return sqlite_url if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


def seed_timetable(engine: Engine) -> None:
    """THPT Lê Quý Đôn: class 10A1 in A101 on Monday 07:00-07:45 and 07:50-08:35; 11C3 in
    its homeroom B203 (no room on the period) at 07:00-07:45."""
    with Session(engine) as session, session.begin():
        session.add(SchoolRow(id=SCHOOL, name="THPT Lê Quý Đôn", area="Quận 3"))
        session.flush()
        a1 = ClassRow(school=SCHOOL, name="10A1", room=ROOM)
        c3 = ClassRow(school=SCHOOL, name="11C3", room="B203")
        session.add_all([a1, c3])
        session.flush()
        session.add_all([
            TimetableRow(class_id=a1.id, weekday=0, period=1, starts=time(7), ends=time(7, 45),
                         subject="Toán", room=ROOM),
            TimetableRow(class_id=a1.id, weekday=0, period=2, starts=time(7, 50),
                         ends=time(8, 35), subject="Ngữ văn", room=ROOM),
            TimetableRow(class_id=c3.id, weekday=0, period=1, starts=time(7), ends=time(7, 45),
                         subject="Vật lý", room=""),
        ])


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated database."""
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def birth(ts: datetime, fw: str = "2.0.1", room: str = ROOM) -> Status:
    """An edge's birth with a CO2 sensor, a PM sensor and a door reader."""
    return Status(ts=ts, state=EdgeState.ONLINE, fw=fw, devices=(
        DeviceInfo(id="co2-1", kind="co2", model="mh-z19c", room=room),
        DeviceInfo(id="pm-1", kind="pm", model="pms5003", room=room),
        DeviceInfo(id="door-1", kind="card-reader", model="rdm6300", room=room),
    ))


def beat(ts: datetime, *, disk: float = 40.0, temp: float = 55.0, outbox: int = 0,
         errors: int = 0, ok: bool = True, outbox_refused: int = 0) -> Heartbeat:
    """A heartbeat; the CO2 sensor's health takes ``ok`` and ``errors``."""
    return Heartbeat(ts=ts, uptime_s=3600.0, cpu_pct=12.0, mem_pct=35.0, disk_pct=disk,
                     temp_c=temp, outbox=outbox, outbox_refused=outbox_refused, devices={
                         "co2-1": DeviceHealth(ok=ok, errors=errors, last_ts=ts),
                         "pm-1": DeviceHealth(ok=True, errors=0, last_ts=ts),
                         "door-1": DeviceHealth(ok=True, errors=0)})


def online_edge(live: LiveState, ts: datetime, school: str = SCHOOL, edge: str = EDGE,
                **heartbeat: object) -> None:
    """An edge born at ``ts`` with a heartbeat right after, as the router records them."""
    live.update_edge(school, edge, state="online", ts=ts, status=birth(ts))
    hb = beat(ts + timedelta(seconds=1), **heartbeat)  # type: ignore[arg-type]
    live.update_edge(school, edge, ts=hb.ts, heartbeat=hb)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on a free port."""
    server, _ = start_receiver()
    yield server
    stop_receiver(server)
