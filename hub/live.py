"""The hub's in-memory live state: latest readings and edge states, for the live wall.

Ingest threads write; web handlers read snapshots. Every change bumps ``version`` so a stream
can send only what changed since the version it last saw.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from protocol import Heartbeat, Status


@dataclass(slots=True)
class DeviceLive:
    """Latest known readings of one device."""

    school: str
    edge: str
    device: str
    kind: str
    room: str
    ts: datetime | None = None
    values: dict[str, float] = field(default_factory=dict)
    version: int = 0


@dataclass(slots=True)
class DeviceHealthLive:
    """One device of an edge as its birth lists it and its heartbeats describe it."""

    kind: str = ""
    model: str = ""
    room: str = ""
    ok: bool | None = None
    errors: int = 0
    #: ``errors`` of the heartbeat before: a count that rose between the two is growing.
    errors_before: int = 0
    #: The device's last good read, as the edge says.
    last_ts: datetime | None = None
    #: The heartbeat that last listed the device (None: only its birth named it so far).
    reported: datetime | None = None
    #: When the hub first heard of it (birth or heartbeat time).
    known: datetime | None = None

    def copy(self) -> DeviceHealthLive:
        """A copy (five times faster than ``dataclasses.replace``: snapshots take a thousand)."""
        return DeviceHealthLive(self.kind, self.model, self.room, self.ok, self.errors,
                                self.errors_before, self.last_ts, self.reported, self.known)


@dataclass(slots=True)
class EdgeLive:
    """Latest known state of one edge box."""

    school: str
    edge: str
    state: str = "unknown"
    since: datetime | None = None
    last_seen: datetime | None = None
    outbox: int = 0
    version: int = 0
    fw: str = ""
    uptime_s: float | None = None
    cpu_pct: float | None = None
    mem_pct: float | None = None
    disk_pct: float | None = None
    temp_c: float | None = None
    #: ``ts`` of the newest heartbeat taken; an older one arriving late is ignored.
    beat_ts: datetime | None = None
    #: The outbox of the heartbeat before the newest: a backlog above it is rising.
    outbox_before: int | None = None
    #: Messages the broker refused, kept on the box (its newest heartbeat).
    outbox_refused: int = 0
    health: dict[str, DeviceHealthLive] = field(default_factory=dict)


#: Taps and payments per minute are counted over this sliding window.
RATE_WINDOW_S = 60.0
#: A room is over its CO2 limit when its newest reading passes this (ppm), as in the reports.
CO2_LIMIT_PPM = 1500.0
#: A reading older than this no longer says how a room's air is now (the city wall's counts).
FRESH_READING_S = 600.0


@dataclass(slots=True)
class SchoolActivity:
    """Today's card activity of one school, kept as it is decided (no database scans)."""

    school: str
    day: str = ""
    taps: int = 0
    arrivals: int = 0
    payments: int = 0
    dong: int = 0
    #: Library loans; the library service counts them with ``record_decision(..., "loan")``.
    loans: int = 0
    recent_taps: deque[float] = field(default_factory=deque)
    recent_payments: deque[float] = field(default_factory=deque)
    version: int = 0
    #: Unresolved device-health alerts of the school (set by the health monitor).
    alerts_open: int = 0

    def roll(self, day: str) -> None:
        """Start a new day's counts."""
        if day != self.day:
            self.day, self.taps, self.arrivals, self.payments, self.dong = day, 0, 0, 0, 0
            self.loans = 0

    def rates(self, now: float) -> tuple[int, int]:
        """(taps, payments) in the last minute."""
        for recent in (self.recent_taps, self.recent_payments):
            while recent and recent[0] < now - RATE_WINDOW_S:
                recent.popleft()
        return len(self.recent_taps), len(self.recent_payments)


class LiveState:
    """Thread-safe latest values; ``changes(since)`` returns what moved after a version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = 0
        self._devices: dict[tuple[str, str, str], DeviceLive] = {}
        self._edges: dict[tuple[str, str], EdgeLive] = {}
        self._schools: dict[str, SchoolActivity] = {}
        self._changed = threading.Condition(self._lock)

    @property
    def version(self) -> int:
        """The number of changes so far."""
        return self._version

    def update_reading(
        self,
        school: str,
        edge: str,
        device: str,
        kind: str,
        room: str,
        ts: datetime,
        values: dict[str, float],
    ) -> None:
        """Record a device's newest readings (older ones than what we hold are ignored)."""
        with self._lock:
            key = (school, edge, device)
            live = self._devices.get(key)
            if live is None:
                live = self._devices[key] = DeviceLive(school, edge, device, kind, room)
            if live.ts is not None and ts < live.ts:
                return
            live.kind, live.room, live.ts = kind, room, ts
            live.values.update(values)
            self._version += 1
            live.version = self._version
            self._changed.notify_all()

    def update_edge(
        self,
        school: str,
        edge: str,
        *,
        state: str | None = None,
        ts: datetime | None = None,
        outbox: int | None = None,
        status: Status | None = None,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        """Record an edge's state change, heartbeat time or outbox backlog; with an accepted
        ``status``, its firmware and device list; with a ``heartbeat``, the box's and its
        devices' health."""
        with self._lock:
            key = (school, edge)
            live = self._edges.get(key)
            if live is None:
                live = self._edges[key] = EdgeLive(school, edge)
            if state is not None and state != live.state:
                live.state, live.since = state, ts
            if ts is not None and (live.last_seen is None or ts > live.last_seen):
                live.last_seen = ts
            if status is not None:
                _take_status(live, status)
            if heartbeat is not None and (live.beat_ts is None or heartbeat.ts >= live.beat_ts):
                _take_heartbeat(live, heartbeat)
            if outbox is not None:
                live.outbox = outbox
            self._version += 1
            live.version = self._version
            self._changed.notify_all()

    def record_decision(self, school: str, day: str, kind: str, *, arrival: bool = False,
                        amount: int = 0) -> None:
        """Count a decided tap (``kind`` "tap"), approved payment ("pay") or loan ("loan")."""
        with self._lock:
            activity = self._schools.get(school)
            if activity is None:
                activity = self._schools[school] = SchoolActivity(school)
            activity.roll(day)
            now = time.monotonic()
            if kind == "tap":
                activity.taps += 1
                activity.arrivals += int(arrival)
                activity.recent_taps.append(now)
            elif kind == "pay":
                activity.payments += 1
                activity.dong += amount
                activity.recent_payments.append(now)
            elif kind == "loan":
                activity.loans += 1
            self._version += 1
            activity.version = self._version
            self._changed.notify_all()

    def set_open_alerts(self, school: str, count: int) -> None:
        """Set how many device-health alerts of ``school`` are unresolved; streams see changes."""
        with self._lock:
            activity = self._schools.get(school)
            if activity is None:
                if count == 0:
                    return
                activity = self._schools[school] = SchoolActivity(school)
            if activity.alerts_open == count:
                return  # set every second by the monitor: only a change is news
            activity.alerts_open = count
            self._version += 1
            activity.version = self._version
            self._changed.notify_all()

    def health_snapshot(self) -> tuple[list[EdgeLive], list[DeviceLive]]:
        """Copies of every edge (with its devices' health) and every device's readings."""
        with self._lock:
            edges = [replace(e, health={k: h.copy() for k, h in e.health.items()})
                     for e in self._edges.values()]
            devices = [replace(d, values=dict(d.values)) for d in self._devices.values()]
        return edges, devices

    def school_summaries(self, now: datetime | None = None) -> dict[str, dict[str, Any]]:
        """Per school: today's activity (as in ``changes``) with its edges online and known,
        rooms over the CO2 limit and the highest CO2 now; from memory, never the database.

        Readings of offline edges and readings older than ``FRESH_READING_S`` are left out:
        they say what the air was, not what it is.
        """
        oldest = (now or datetime.now(UTC)) - timedelta(seconds=FRESH_READING_S)
        with self._lock:
            rows: dict[str, dict[str, Any]] = {}
            clock = time.monotonic()
            for a in self._schools.values():
                rows[a.school] = {**_activity_dict(a, clock), **_no_health()}
            for e in self._edges.values():
                row = rows.get(e.school) or rows.setdefault(e.school, _blank_summary(e.school))
                row["edges_total"] += 1
                row["edges_online"] += e.state == "online"
            over: set[tuple[str, str, str]] = set()
            for d in self._devices.values():
                co2 = d.values.get("co2_ppm")
                if co2 is None or d.ts is None or d.ts < oldest:
                    continue
                edge = self._edges.get((d.school, d.edge))
                if edge is not None and edge.state == "offline":
                    continue
                row = rows.get(d.school) or rows.setdefault(d.school, _blank_summary(d.school))
                if row["co2_max_ppm"] is None or co2 > row["co2_max_ppm"]:
                    row["co2_max_ppm"] = co2
                if co2 > CO2_LIMIT_PPM:
                    over.add((d.school, d.edge, d.room))
            for school, _, _ in over:
                rows[school]["rooms_over_co2"] += 1
            return rows

    def wait_for_change(self, since: int, timeout: float) -> int:
        """Block (in a thread) until the version passes ``since`` or ``timeout``; return it."""
        with self._changed:
            self._changed.wait_for(lambda: self._version > since, timeout)
            return self._version

    def changes(self, since: int = 0, school: str | None = None) -> dict[str, Any]:
        """Devices and edges changed after version ``since``, as JSON-ready dicts; only those
        of ``school`` when one is given."""
        with self._lock:
            return {
                "version": self._version,
                "devices": [_device_dict(d) for d in self._devices.values()
                            if d.version > since and school in (None, d.school)],
                "edges": [_edge_dict(e) for e in self._edges.values()
                          if e.version > since and school in (None, e.school)],
                # Rates move with time alone, so every school is always sent.
                "schools": [_activity_dict(a, time.monotonic()) for a in self._schools.values()
                            if school in (None, a.school)],
            }


def _take_status(live: EdgeLive, status: Status) -> None:
    """An accepted birth names the firmware and, in full, the devices wired to the box."""
    if status.state != "online":
        return
    if status.fw:
        live.fw = status.fw
    listed: dict[str, DeviceHealthLive] = {}
    for info in status.devices:
        entry = live.health.get(info.id) or DeviceHealthLive(known=status.ts)
        entry.kind, entry.model, entry.room = info.kind, info.model, info.room or ""
        listed[info.id] = entry
    live.health = listed


def _take_heartbeat(live: EdgeLive, beat: Heartbeat) -> None:
    """The box's figures and each listed device's health; the previous ones become "before"."""
    live.outbox_before = live.outbox if live.beat_ts is not None else None
    live.beat_ts, live.outbox, live.uptime_s = beat.ts, beat.outbox, beat.uptime_s
    live.outbox_refused = beat.outbox_refused
    live.cpu_pct, live.mem_pct, live.disk_pct = beat.cpu_pct, beat.mem_pct, beat.disk_pct
    live.temp_c = beat.temp_c
    for device, health in beat.devices.items():
        entry = live.health.get(device)
        if entry is None:
            entry = live.health[device] = DeviceHealthLive(known=beat.ts)
        entry.errors_before = entry.errors if entry.reported is not None else health.errors
        entry.ok, entry.errors, entry.last_ts = health.ok, health.errors, health.last_ts
        entry.reported = beat.ts


def _no_health() -> dict[str, Any]:
    return {"edges_total": 0, "edges_online": 0, "rooms_over_co2": 0, "co2_max_ppm": None}


def _blank_summary(school: str) -> dict[str, Any]:
    """The summary of a school with edges or readings but no card activity yet."""
    return {**_activity_dict(SchoolActivity(school), time.monotonic()), **_no_health()}


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def _device_dict(d: DeviceLive) -> dict[str, Any]:
    return {
        "school": d.school,
        "edge": d.edge,
        "device": d.device,
        "kind": d.kind,
        "room": d.room,
        "ts": _iso(d.ts),
        "values": dict(d.values),
    }


def _edge_dict(e: EdgeLive) -> dict[str, Any]:
    return {
        "school": e.school,
        "edge": e.edge,
        "state": e.state,
        "since": _iso(e.since),
        "last_seen": _iso(e.last_seen),
        "outbox": e.outbox,
        "fw": e.fw,
        "uptime_s": e.uptime_s,
        "cpu_pct": e.cpu_pct,
        "mem_pct": e.mem_pct,
        "disk_pct": e.disk_pct,
        "temp_c": e.temp_c,
        "devices_failing": sum(1 for h in e.health.values() if h.ok is False),
    }


def _activity_dict(a: SchoolActivity, now: float) -> dict[str, Any]:
    taps_per_min, payments_per_min = a.rates(now)
    return {
        "school": a.school,
        "day": a.day,
        "taps_today": a.taps,
        "arrivals_today": a.arrivals,
        "taps_per_min": taps_per_min,
        "payments_today": a.payments,
        "payments_per_min": payments_per_min,
        "dong_today": a.dong,
        "loans_today": a.loans,
        "alerts_open": a.alerts_open,
    }
