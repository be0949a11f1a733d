"""Which rooms have a lesson in progress: a school's timetable held in memory, asked per reading.

Built once from the timetable (and refreshed now and then), so the alert rules never scan the
database. A room is occupied while a period of any class is running there on that weekday, in
the school's own timezone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


def room_key(room: str) -> str:
    """A room name compared without case or extra spaces (``"P. 101 "`` == ``"p. 101"``)."""
    return " ".join(room.split()).casefold()


@dataclass(frozen=True, slots=True)
class PeriodSlot:
    """One period of the timetable: in ``room`` on ``weekday`` (0 = Monday) from ``starts``."""

    school: str
    room: str
    weekday: int
    starts: time
    ends: time


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


class Occupancy:
    """Lessons per (school, room, weekday); ``occupied(school, room, now)`` asks them."""

    def __init__(self, periods: Iterable[PeriodSlot] = (),
                 timezones: Mapping[str, str] | None = None) -> None:
        self._zones = {school: _zone(name) for school, name in (timezones or {}).items()}
        self._default_zone = ZoneInfo(DEFAULT_TIMEZONE)
        self._lessons: dict[tuple[str, str, int], list[tuple[time, time]]] = {}
        for p in periods:
            if p.room.strip():
                self._lessons.setdefault((p.school, room_key(p.room), p.weekday), []).append(
                    (p.starts, p.ends))
        self.periods = sum(len(v) for v in self._lessons.values())

    def local(self, school: str, now: datetime) -> tuple[int, time]:
        """The weekday and wall-clock time at ``school`` when it is ``now`` (aware)."""
        there = now.astimezone(self._zones.get(school, self._default_zone))
        return there.weekday(), there.time()

    def occupied(self, school: str, room: str, now: datetime) -> bool:
        """Whether a period is in progress in ``room`` of ``school`` at ``now``."""
        if not room:
            return False
        weekday, clock = self.local(school, now)
        lessons = self._lessons.get((school, room_key(room), weekday))
        return lessons is not None and any(starts <= clock < ends for starts, ends in lessons)
