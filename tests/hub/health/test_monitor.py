"""The monitor on SQLite and PostgreSQL: timetable and rules from the database, alerts from the
live state, open counts back to it, a stuck webhook that cannot slow it, the inventory kept
current from births."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.db.alerts import OPEN, RESOLVED, AlertRow
from hub.db.inventory import InventoryRow
from hub.health.monitor import HealthMonitor
from hub.health.notify import AlertWebhookSender
from hub.health.rule_store import put_school_rules
from hub.live import LiveState
from tests.hub.conftest import wait_until
from tests.hub.health.conftest import (
    EDGE,
    MONDAY_LESSON,
    ROOM,
    SCHOOL,
    at,
    beat,
    birth,
    online_edge,
    seed_timetable,
)


def heartbeat(live: LiveState, ts: datetime, edge: str = EDGE, **figures: object) -> None:
    hb = beat(ts, **figures)  # type: ignore[arg-type]
    live.update_edge(SCHOOL, edge, ts=ts, heartbeat=hb)


def set_rules(engine: Engine, webhook: str | None = None, **overrides: object) -> None:
    with Session(engine) as session, session.begin():
        put_school_rules(session, SCHOOL, dict(overrides), webhook, "test")


def states(engine: Engine) -> list[tuple[str, str, str]]:
    with Session(engine) as session:
        return [(a.rule, a.room, a.state) for a in session.scalars(
            select(AlertRow).order_by(AlertRow.id))]


def test_co2_in_a_lesson_opens_an_alert_that_resolves_in_the_break(engine: Engine) -> None:
    seed_timetable(engine)
    set_rules(engine, open_after_s=60, clear_after_s=60)
    live = LiveState()
    monitor = HealthMonitor(engine, live)
    monitor.refresh()
    assert monitor.rules_for(SCHOOL).open_after_s == 60
    online_edge(live, at("07:00"))
    for minute in range(0, 6):  # a reading every minute from 07:20, over the limit
        now = MONDAY_LESSON + timedelta(minutes=minute)
        live.update_reading(SCHOOL, EDGE, "co2-1", "co2", ROOM, now, {"co2_ppm": 1620.0})
        heartbeat(live, now)
        monitor.tick(now)
    assert states(engine) == [("co2_high", ROOM, OPEN)]
    assert live.changes(0)["schools"][0]["alerts_open"] == 1
    # 07:45: the break. The reading is still high but nobody is in the room.
    for second in (0, 30, 60):
        now = at("07:45") + timedelta(seconds=second)
        live.update_reading(SCHOOL, EDGE, "co2-1", "co2", ROOM, now, {"co2_ppm": 1620.0})
        heartbeat(live, now)
        monitor.tick(now)
    assert states(engine) == [("co2_high", ROOM, RESOLVED)]
    assert live.changes(0)["schools"][0]["alerts_open"] == 0


def test_a_period_without_a_room_is_in_the_class_homeroom(engine: Engine) -> None:
    seed_timetable(engine)
    set_rules(engine, open_after_s=0)
    live = LiveState()
    monitor = HealthMonitor(engine, live)
    monitor.refresh()
    online_edge(live, MONDAY_LESSON - timedelta(seconds=30))
    live.update_reading(SCHOOL, EDGE, "co2-1", "co2", "B203", MONDAY_LESSON, {"co2_ppm": 1700.0})
    monitor.tick(MONDAY_LESSON)
    assert states(engine) == [("co2_high", "B203", OPEN)]


class _Stuck(ThreadingHTTPServer):
    """A webhook that takes the request and does not answer until released."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _StuckHandler)
        self.arrived, self.release = threading.Event(), threading.Event()


class _StuckHandler(BaseHTTPRequestHandler):
    server: _Stuck

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.arrived.set()
        self.server.release.wait(30)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def stuck() -> Iterator[_Stuck]:
    server = _Stuck()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def test_a_stuck_webhook_does_not_hold_up_evaluation(engine: Engine, stuck: _Stuck) -> None:
    set_rules(engine, f"http://127.0.0.1:{stuck.server_port}/hook", open_after_s=0,
              clear_after_s=0)
    live = LiveState()
    sender = AlertWebhookSender(engine, interval=0.05, timeout=30, attempts=1)
    monitor = HealthMonitor(engine, live, sender=sender)
    monitor.refresh()
    sender.start()
    try:
        t0 = at("10:00")
        online_edge(live, t0, disk=96.0)
        monitor.tick(t0)
        assert stuck.arrived.wait(10), "the first event is being POSTed"
        # The receiver holds that POST; the monitor goes on opening and resolving.
        for n, edge in enumerate(["lab-hoa", "can-tin", "thu-vien"], start=1):
            online_edge(live, t0 + timedelta(seconds=n), edge=edge, temp=85.0)
            monitor.tick(t0 + timedelta(seconds=n))
            assert monitor.last_tick_s < 0.5
        heartbeat(live, t0 + timedelta(seconds=10), disk=40.0)  # the first one's disk is fine
        monitor.tick(t0 + timedelta(seconds=10))
        assert sorted(states(engine)) == [("cpu_hot", "", OPEN)] * 3 + [
            ("disk_full", "", RESOLVED)]
    finally:
        stuck.release.set()
        sender.stop()


def test_inventory_follows_the_firmware_and_rooms_the_edges_report(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        session.add_all([
            InventoryRow(asset_tag="TS-0001", model="Raspberry Pi 4B", school=SCHOOL, edge=EDGE,
                         device="", room="A101", firmware="2.0.1"),
            InventoryRow(asset_tag="TS-0002", model="MH-Z19C", school=SCHOOL, edge=EDGE,
                         device="co2-1", room="A101", firmware="1.0"),
        ])
    live = LiveState()
    monitor = HealthMonitor(engine, live, inventory_every=1)
    monitor.refresh()
    monitor.inventory_changed()
    t0 = at("06:00")
    live.update_edge(SCHOOL, EDGE, state="online", ts=t0, status=birth(t0, fw="2.1.0",
                                                                        room="A102"))
    monitor.tick(t0)

    def inventory() -> dict[str, tuple[str, str]]:
        with Session(engine) as session:
            return {r.asset_tag: (r.room, r.firmware) for r in session.scalars(
                select(InventoryRow))}

    wait_until(lambda: inventory() == {"TS-0001": ("A101", "2.1.0"),
                                       "TS-0002": ("A102", "1.0")}, 5, "inventory updated")
    assert monitor.inventory.changes(live.health_snapshot()[0]) == {}, "nothing left to write"
