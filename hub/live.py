"""The hub's in-memory live state: latest readings and edge states, for the live wall.

Ingest threads write; web handlers read snapshots. Every change bumps ``version`` so a stream
can send only what changed since the version it last saw.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
class EdgeLive:
    """Latest known state of one edge box."""

    school: str
    edge: str
    state: str = "unknown"
    since: datetime | None = None
    last_seen: datetime | None = None
    outbox: int = 0
    version: int = 0


#: Taps and payments per minute are counted over this sliding window.
RATE_WINDOW_S = 60.0


@dataclass(slots=True)
class SchoolActivity:
    """Today's card activity of one school, kept as it is decided (no database scans)."""

    school: str
    day: str = ""
    taps: int = 0
    arrivals: int = 0
    payments: int = 0
    dong: int = 0
    recent_taps: deque[float] = field(default_factory=deque)
    recent_payments: deque[float] = field(default_factory=deque)
    version: int = 0

    def roll(self, day: str) -> None:
        """Start a new day's counts."""
        if day != self.day:
            self.day, self.taps, self.arrivals, self.payments, self.dong = day, 0, 0, 0, 0

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
    ) -> None:
        """Record an edge's state change, heartbeat time or outbox backlog."""
        with self._lock:
            key = (school, edge)
            live = self._edges.get(key)
            if live is None:
                live = self._edges[key] = EdgeLive(school, edge)
            if state is not None and state != live.state:
                live.state, live.since = state, ts
            if ts is not None and (live.last_seen is None or ts > live.last_seen):
                live.last_seen = ts
            if outbox is not None:
                live.outbox = outbox
            self._version += 1
            live.version = self._version
            self._changed.notify_all()

    def record_decision(self, school: str, day: str, kind: str, *, arrival: bool = False,
                        amount: int = 0) -> None:
        """Count a decided tap (``kind`` "tap") or approved payment ("pay") of ``day``."""
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
            self._version += 1
            activity.version = self._version
            self._changed.notify_all()

    def wait_for_change(self, since: int, timeout: float) -> int:
        """Block (in a thread) until the version passes ``since`` or ``timeout``; return it."""
        with self._changed:
            self._changed.wait_for(lambda: self._version > since, timeout)
            return self._version

    def changes(self, since: int = 0) -> dict[str, Any]:
        """Devices and edges changed after version ``since``, as JSON-ready dicts."""
        with self._lock:
            return {
                "version": self._version,
                "devices": [_device_dict(d) for d in self._devices.values() if d.version > since],
                "edges": [_edge_dict(e) for e in self._edges.values() if e.version > since],
                # Rates move with time alone, so every school is always sent.
                "schools": [_activity_dict(a, time.monotonic()) for a in self._schools.values()],
            }


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
    }
