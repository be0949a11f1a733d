"""The in-memory device map: which kind and room each device is, for tagging telemetry."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from protocol import EdgeState, Status

UNKNOWN_KIND = "unknown"


@dataclass(frozen=True, slots=True)
class DeviceTag:
    """What telemetry of one device is tagged with."""

    kind: str
    room: str


_UNKNOWN = DeviceTag(UNKNOWN_KIND, "")


class DeviceMap:
    """Device -> (kind, room), and each edge's newest status time; read lock-free."""

    def __init__(self) -> None:
        self._devices: dict[tuple[str, str, str], DeviceTag] = {}
        #: Bumped whenever a device's tag is set: caches built from tags check it.
        self.version = 0
        #: Per edge: since when its current state holds, and the session of its birth.
        self._status: dict[tuple[str, str], tuple[datetime, str | None]] = {}
        self._lock = threading.Lock()

    def tag(self, school: str, edge: str, device: str) -> DeviceTag:
        """The device's kind and room; kind ``unknown`` if no status has named it yet."""
        return self._devices.get((school, edge, device), _UNKNOWN)

    def set_device(self, school: str, edge: str, device: str, kind: str, room: str) -> None:
        """Remember one device (from a birth message or the database)."""
        tag, key = DeviceTag(kind, room), (school, edge, device)
        if self._devices.get(key) != tag:  # every birth names its devices: most change nothing
            self._devices[key] = tag
            self.version += 1

    def accept_status(self, school: str, edge: str, status: Status,
                      received: datetime) -> datetime | None:
        """The time from which ``status`` holds, or None when it is stale; remember it if not.

        See ``status_takes_effect`` for the rule.
        """
        with self._lock:
            key = (school, edge)
            newest, session = self._status.get(key, (None, None))
            since = status_takes_effect(status, newest, session, received)
            if since is not None:
                self._status[key] = (since, status.session if status.state is EdgeState.ONLINE
                                     else None)
            return since

    def __len__(self) -> int:
        return len(self._devices)


def status_takes_effect(status: Status, newest: datetime | None, session: str | None,
                        received: datetime) -> datetime | None:
    """Since when ``status`` holds given the newest accepted one, or None when it is stale.

    A birth holds from its ``ts`` unless an accepted status is newer. A Last Will is stamped when
    its connection opened, so its ``ts`` predates that connection's own birth: when it names the
    session of the current birth it is that connection's death and holds from ``received`` (when
    the broker gave up on the edge). A Will of another session is a stale one from before.
    Statuses without a session (older edges) are ordered by ``ts`` alone.
    """
    if status.state is EdgeState.OFFLINE and status.session is not None and session is not None:
        if status.session != session:
            return None
        return max(received, newest) if newest is not None else received
    if newest is not None and status.ts < newest:
        return None
    return status.ts
