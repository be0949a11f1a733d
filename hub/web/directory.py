"""Schools' names and areas for the city wall, read from the database now and then, not per event.

Live events name schools by id only. The wall needs each school's name and area; they change
rarely (an import, a new school), so they are read once when first needed and again after
``refresh_s``, by whichever caller notices first, in a worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from hub.db.people import SchoolRow

log = logging.getLogger(__name__)

#: How often the names and areas are read again: minutes, not events.
REFRESH_S = 300.0
#: After a failed read, try again this much sooner than a normal refresh.
RETRY_S = 30.0


@dataclass(frozen=True, slots=True)
class SchoolInfo:
    """What the wall shows of a school besides its live figures."""

    name: str
    area: str


class SchoolDirectory:
    """Thread-safe ``school id -> SchoolInfo``, reloaded from ``engine`` every ``refresh_s``.

    Without an engine (a wall served over a bare live state) it stays empty: schools then
    show by id in the "other" tile.
    """

    def __init__(self, engine: Engine | None, *, refresh_s: float = REFRESH_S) -> None:
        self.engine = engine
        self.refresh_s = refresh_s
        self._schools: dict[str, SchoolInfo] = {}
        self._next_load = 0.0  # monotonic time of the next read; 0: never read yet
        self._loading = threading.Lock()
        self.loads = 0

    def due(self) -> bool:
        """Whether a read is due (never read, or older than ``refresh_s``)."""
        return self.engine is not None and time.monotonic() >= self._next_load

    def refresh(self) -> None:
        """Read the schools if a read is due and no other thread is reading (call it in a
        worker thread: it blocks on the database)."""
        if not self.due() or not self._loading.acquire(blocking=False):
            return
        try:
            if self.due():
                self._load()
        finally:
            self._loading.release()

    def _load(self) -> None:
        assert self.engine is not None
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(select(SchoolRow.id, SchoolRow.name, SchoolRow.area))
                schools = {row.id: SchoolInfo(row.name, row.area) for row in rows}
        except SQLAlchemyError as error:
            # The wall goes on with what it knew; names are not worth failing a stream for.
            log.warning("city wall: cannot read schools (retry in %.0f s): %s", RETRY_S, error)
            self._next_load = time.monotonic() + RETRY_S
            return
        self._schools = schools  # one reference swap: readers see the old or the new dict
        self.loads += 1
        self._next_load = time.monotonic() + self.refresh_s

    def get(self, school: str) -> SchoolInfo | None:
        """The school's name and area, if the database knows it."""
        return self._schools.get(school)

    def all(self) -> dict[str, SchoolInfo]:
        """Every known school."""
        return self._schools
