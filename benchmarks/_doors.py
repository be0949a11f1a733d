"""Door taps for benchmarks: a seeded school with a timetable, and doors tapping at a steady rate.

The school is made through the hub's own importer (students with cards and classes, then the
timetable), as a school would. The doors are paho MQTT 5 clients, one per edge box, each
publishing the ``tap`` requests of its door readers at QoS 1 with a response topic and
correlation data; one pacing thread publishes every tap at its time on a monotonic schedule
(open loop: a slow answer never holds the next tap back), and each edge's network thread
stamps the answers as they arrive. The clients' sockets have TCP_NODELAY (paho leaves Nagle's
algorithm on): a box sending a hundred taps a second would otherwise hold a tap or an
acknowledgement back until the broker's delayed ACK, up to 40 ms, and measure that instead of
the hub.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine, text

from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.services.people import import_file
from hub.services.people.manage import put_school
from protocol import Tap, topics
from smartschool_cli.localservers.mosquitto import Mosquitto

SCHOOL = "thpt-le-quy-don"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng")
GIVEN = ("Thị Mai Anh", "Quốc Bảo", "Minh Châu", "Gia Huy", "Ngọc Hân", "Đức Khang",
         "Thu Trang", "Hoàng Long", "Khánh Linh", "Tuấn Kiệt")
#: Period starts of a school day: five 45-minute periods in the morning, five after lunch.
STARTS = [clock(7, 0), clock(7, 50), clock(8, 40), clock(9, 35), clock(10, 25),
          clock(13, 0), clock(13, 50), clock(14, 40), clock(15, 35), clock(16, 25)]


def card_of(i: int) -> str:
    """Student i's EM4100 card."""
    return f"em:{0x0E00000000 + i:010X}"


def class_of(i: int) -> str:
    """Student i's class: 10A1..12A<k>, 50 students each."""
    number = i // 50
    return f"{10 + number % 3}A{number // 3 + 1}"


def seed_school(url: str, students: int) -> list[str]:
    """THPT Lê Quý Đôn with ``students`` carded students in classes of 50 and a timetable of
    ten periods on every weekday (Sunday too, so a run finds periods any day); the class names."""
    upgrade_to_head(url)
    engine = make_engine(url)
    try:
        from sqlalchemy.orm import Session

        with Session(engine) as session, session.begin():
            put_school(session, SCHOOL, name="THPT Lê Quý Đôn", area="Quận 3")
        rows = ["Mã HS,Họ và tên,Lớp,Mã thẻ"] + [
            f"LQD{i:05d},{FAMILY[i % 10]} {GIVEN[(i // 10) % 10]},{class_of(i)},{card_of(i)}"
            for i in range(students)]
        report = import_file(engine, SCHOOL, "students", "\n".join(rows).encode(), "hs.csv")
        if report.created != students:
            raise RuntimeError(f"student import: {report}")
        classes = sorted({class_of(i) for i in range(students)})
        lines = ["Lớp,Thứ,Tiết,Bắt đầu,Kết thúc,Môn"] + [
            f"{name},{weekday},{period + 1},{starts:%H:%M},"
            f"{(datetime.combine(date.today(), starts) + timedelta(minutes=45)):%H:%M},Toán"
            for name in classes for weekday in ("2", "3", "4", "5", "6", "7", "CN")
            for period, starts in enumerate(STARTS)]
        report = import_file(engine, SCHOOL, "timetable", "\n".join(lines).encode(), "tkb.csv")
        if report.rejected or report.created != len(lines) - 1:
            raise RuntimeError(f"timetable import: {report}")
        _seed_history(engine, HISTORY_DAYS)
        return classes
    finally:
        engine.dispose()


#: School days of door history before the measured morning: a hub meets tables that already
#: hold yesterday's taps and that autovacuum has analysed, not the empty tables of a new install
#: (where PostgreSQL's first plans scan them whole until its first ANALYZE, a minute later).
HISTORY_DAYS = 2

_HISTORY = """
WITH days AS (
    SELECT d::date AS day FROM generate_series(:first, :last, interval '1 day') AS d),
periods AS (
    SELECT s.id AS student, s.class_id, c.card, days.day, t.period,
           (days.day + t.starts) AT TIME ZONE :zone AS ts
    FROM students s JOIN cards c ON c.student_id = s.id
    JOIN timetable t ON t.class_id = s.class_id
    JOIN days ON t.weekday = extract(isodow FROM days.day) - 1
    WHERE s.school = :school),
taps AS (
    INSERT INTO taps (id, school, edge, device, card, student_id, ts, day, kind, direction,
                      period, code)
    SELECT gen_random_uuid()::text, :school, 'tang-0', 'door-0', card, student, ts, day, 'door',
           '', period, 'attendance.present' FROM periods
    RETURNING id, ts),
answers AS (
    INSERT INTO processed_requests (id, school, edge, device, type, code, response, ts)
    SELECT id, :school, 'tang-0', 'door-0', 'tap', 'attendance.present',
           json_build_object('v', 1, 're', id, 'ok', true, 'code', 'attendance.present')::text,
           ts FROM taps)
INSERT INTO attendance (school, student_id, class_id, day, period, status, first_ts)
SELECT :school, student, class_id, day, period, 'present', ts FROM periods
UNION ALL
SELECT :school, student, min(class_id), day, 0, 'present', min(ts) FROM periods
GROUP BY student, day
"""


def _seed_history(engine: Engine, days: int) -> None:
    """Every student present at every period of the ``days`` days before today (local time;
    PostgreSQL), then ANALYZE, as autovacuum would have done overnight."""
    today = datetime.now(ZONE).date()
    with engine.begin() as connection:
        connection.execute(text(_HISTORY), {
            "first": today - timedelta(days=days), "last": today - timedelta(days=1),
            "zone": ZONE.key, "school": SCHOOL})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))


def door_taps(students: int, rounds: int, edges: int, doors: int) -> list[tuple[int, Tap]]:
    """``rounds`` taps per student, round r at period r+1's door of today (local time), spread
    from 3 minutes before the period to 12 after (some late); ``(edge index, tap)`` each."""
    today = datetime.now(ZONE).date()
    out = []
    for r in range(rounds):
        start = datetime.combine(today, STARTS[r % len(STARTS)], tzinfo=ZONE)
        for i in range(students):
            ts = start + timedelta(minutes=-3 + 15 * i / students)
            door = (i // 50) % (edges * doors)  # a class's door
            out.append((door // doors, Tap(id=uuid.uuid4(), ts=ts, device=f"door-{door % doors}",
                                           card=card_of(i))))
    return out


def edge_name(k: int) -> str:
    """Edge box k (one per floor of classrooms)."""
    return f"tang-{k}"


@dataclass
class DoorRun:
    """Stamps of one run: publish and answer times by request index, and the answers' codes."""

    sent: list[float]
    answered: list[float]
    codes: dict[str, int] = field(default_factory=dict)
    lag: list[float] = field(default_factory=list)


class Doors:
    """One paho MQTT 5 client per edge box; ``run`` publishes taps on a schedule."""

    def __init__(self, broker: Mosquitto, edges: int) -> None:
        self.clients: list[mqtt.Client] = []
        self._index: dict[bytes, int] = {}
        self._run: DoorRun | None = None
        self._lock = threading.Lock()
        for k in range(edges):
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{edge_name(k)}",
                                 protocol=mqtt.MQTTv5)
            client.max_inflight_messages_set(65_000)  # open loop: paho must not queue taps
            client.on_message = self._on_answer
            subscribed = threading.Event()
            client.on_subscribe = lambda *args, ev=subscribed: ev.set()
            client.connect(broker.host, broker.port)
            sock = client.socket()
            if not isinstance(sock, socket.socket):
                raise RuntimeError("door client has no TCP socket after connecting")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.loop_start()
            client.subscribe(topics.resp(SCHOOL, edge_name(k)), qos=1)
            if not subscribed.wait(10):
                raise RuntimeError("door client could not subscribe")
            self.clients.append(client)

    def _on_answer(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        run = self._run
        index = self._index.get(msg.properties.CorrelationData)  # type: ignore[union-attr]
        if run is None or index is None:
            return
        run.answered[index] = now
        found = re.search(rb'"code":"([^"]+)"', msg.payload)
        code = found.group(1).decode() if found else "?"
        with self._lock:
            run.codes[code] = run.codes.get(code, 0) + 1

    def run(self, taps: list[tuple[int, Tap]], rate: float, timeout: float = 30.0) -> DoorRun:
        """Publish ``taps`` at ``rate`` per second; wait (up to ``timeout`` after the last)
        for their answers."""
        prepared = []
        self._index = {}
        for i, (k, tap) in enumerate(taps):
            props = Properties(PacketTypes.PUBLISH)
            props.ResponseTopic = topics.resp(SCHOOL, edge_name(k))
            props.CorrelationData = str(tap.id).encode()
            self._index[props.CorrelationData] = i
            prepared.append((self.clients[k], topics.req(SCHOOL, edge_name(k)), tap.to_json(),
                             props))
        run = DoorRun(sent=[0.0] * len(taps), answered=[0.0] * len(taps))
        self._run = run
        started = time.monotonic()
        for i, (client, topic, payload, props) in enumerate(prepared):
            due = started + i / rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            now = time.monotonic()
            run.lag.append(now - due)
            run.sent[i] = now
            client.publish(topic, payload, qos=1, properties=props)
        deadline = time.monotonic() + timeout
        while sum(1 for t in run.answered if t) < len(taps) and time.monotonic() < deadline:
            time.sleep(0.05)
        return run

    def close(self) -> None:
        """Disconnect every client."""
        for client in self.clients:
            client.disconnect()
            client.loop_stop()


def until_answered(doors: Doors, tap: Tap, timeout: float = 60.0) -> None:
    """Send one tap again every second until the hub answers it (the hub is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for t in doors.run([(0, tap)], 1.0, timeout=1.0).answered if t):
            return
    raise RuntimeError("the hub never answered")


def stale_tap() -> Tap:
    """A tap of yesterday by student 0 (a warm-up that changes nothing measured)."""
    return Tap(id=uuid.uuid4(), ts=datetime.now(UTC) - timedelta(days=1), device="door-0",
               card=card_of(0))
