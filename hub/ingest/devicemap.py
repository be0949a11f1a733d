"""The in-memory device map: which kind and room each device is, for tagging telemetry."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

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
        self._status_ts: dict[tuple[str, str], datetime] = {}
        self._lock = threading.Lock()

    def tag(self, school: str, edge: str, device: str) -> DeviceTag:
        """The device's kind and room; kind ``unknown`` if no status has named it yet."""
        return self._devices.get((school, edge, device), _UNKNOWN)

    def set_device(self, school: str, edge: str, device: str, kind: str, room: str) -> None:
        """Remember one device (from a birth message or the database)."""
        self._devices[(school, edge, device)] = DeviceTag(kind, room)

    def accept_status(self, school: str, edge: str, ts: datetime) -> bool:
        """Whether a status at ``ts`` is not older than the newest one seen; remember it if so.

        A Last Will carries the ts of the connection it belongs to, so it may be older than
        the birth of the edge's next connection and must not override it.
        """
        with self._lock:
            newest = self._status_ts.get((school, edge))
            if newest is not None and ts < newest:
                return False
            self._status_ts[(school, edge)] = ts
            return True

    def __len__(self) -> int:
        return len(self._devices)
