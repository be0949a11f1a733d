"""What the hub keeps of each school between batches of taps: its rules, only to guess what the
next batch will read, and its roster (cards and timetables), trusted while the school's roster
version holds.

The roster version is bumped in the same transaction by every write to a school's cards,
students, classes or timetable made through the hub (:func:`hub.services.people.bump_roster`),
so a card blocked through the API is refused from the next batch on. A school without a version
yet (its roster never written through the hub) is read afresh for every batch. Writes made to
the database by other means are not seen until the next version bump.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from datetime import time

from sqlalchemy import Engine

#: Cards kept in memory at most, all schools together (a city's hub sees every school); past it
#: the rosters are dropped and read again as taps come.
MAX_CACHED_CARDS = 200_000


@dataclass(frozen=True, slots=True)
class School:
    """A school's door rules."""

    timezone: str
    late_grace_min: int
    duplicate_window_s: int
    webhook: bool


#: The rules of a school the database does not know (its taps are all unknown cards).
DEFAULT_SCHOOL = School("Asia/Ho_Chi_Minh", 10, 300, False)


@dataclass(frozen=True, slots=True)
class Card:
    """A card of the school, with its student and the student's class."""

    status: str
    student_id: int
    active: bool
    code: str
    full_name: str
    photo_url: str
    class_id: int | None
    class_name: str | None


@dataclass(frozen=True, slots=True)
class Period:
    """One timetable period of a class on a weekday."""

    period: int
    starts: time
    ends: time


@dataclass(slots=True, eq=False)
class Roster:
    """A school's cards (None: not a card of this school) and timetables, as of ``version``."""

    version: tuple[str, int] | None
    cards: dict[str, Card | None] = field(default_factory=dict)
    periods: dict[tuple[int, int], list[Period]] = field(default_factory=dict)


class SchoolCache:
    """What the hub keeps of each school between transactions, per database: the rules last
    read (only to guess what the next batch will read) and the roster (trusted while its
    version holds). Thread-safe."""

    def __init__(self, max_cards: int = MAX_CACHED_CARDS) -> None:
        self.max_cards = max_cards
        self._by_engine: weakref.WeakKeyDictionary[Engine, dict[str, tuple[School, Roster]]] = \
            weakref.WeakKeyDictionary()
        self._cards = 0  # added since the last clear: an upper bound of what is kept
        self._lock = threading.Lock()

    def kept(self, engine: Engine, school: str) -> tuple[School, Roster] | None:
        """The rules and roster last settled for ``school``, if any."""
        with self._lock:
            return self._by_engine.get(engine, {}).get(school)

    def settle(self, engine: Engine, school: str, rules: School,
               version: tuple[str, int] | None) -> Roster:
        """The kept roster of ``school`` if it is at ``version``, else a new empty one (kept
        unless there is no version to check it against); ``rules`` become the next guess."""
        with self._lock:
            schools = self._by_engine.setdefault(engine, {})
            if version is None:
                schools.pop(school, None)
                return Roster(None)
            found = schools.get(school)
            roster = found[1] if found is not None and found[1].version == version \
                else Roster(version)
            schools[school] = (rules, roster)
            return roster

    def added(self, cards: int) -> None:
        """Count cards just kept; drop every roster once there are too many."""
        with self._lock:
            self._cards += cards
            if self._cards > self.max_cards:
                self._by_engine.clear()
                self._cards = 0
