"""The health monitor: a thread inside the hub that evaluates the alert rules every second.

Each tick reads a snapshot of the live state (no database), evaluates the rules, advances the
alerts (the database is written only when one opens or resolves) and tells the live state how
many alerts each school has open. Schools' rules and the timetable are cached and refreshed
every minute or so; the inventory follows the firmware and rooms the edges report.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.db.people import ClassRow, SchoolRow, TimetableRow
from hub.health.alerts import AlertTracker
from hub.health.inventory_sync import InventorySync
from hub.health.notify import AlertWebhookSender
from hub.health.occupancy import Occupancy, PeriodSlot
from hub.health.rule_store import SchoolRules, load_all
from hub.health.rules import DEFAULT_RULES, AlertRules, Condition, evaluate
from hub.live import LiveState

log = logging.getLogger(__name__)


def load_occupancy(engine: Engine) -> Occupancy:
    """Every school's timetable by room (a period without a room is in its class's homeroom)."""
    with Session(engine) as session:
        zones = dict(session.execute(select(SchoolRow.id, SchoolRow.timezone)).all())
        rows = session.execute(
            select(ClassRow.school, TimetableRow.room, ClassRow.room, TimetableRow.weekday,
                   TimetableRow.starts, TimetableRow.ends).join(ClassRow)).all()
    return Occupancy((PeriodSlot(school, room or homeroom, weekday, starts, ends)
                      for school, room, homeroom, weekday, starts, ends in rows), zones)


class HealthMonitor:
    """Evaluates alerts every ``interval`` seconds in its own thread; ``start()``/``stop()``."""

    def __init__(self, engine: Engine, live: LiveState, *, interval: float = 1.0,
                 refresh_s: float = 60.0, inventory_every: int = 5,
                 sender: AlertWebhookSender | None = None) -> None:
        self.engine, self.live, self.interval = engine, live, interval
        self.refresh_s, self.inventory_every = refresh_s, inventory_every
        self.sender = sender if sender is not None else AlertWebhookSender(engine)
        self.tracker = AlertTracker(engine, webhook_for=self._webhook_for,
                                    on_queued=self.sender.wake)
        self.inventory = InventorySync(engine)
        self._schools: dict[str, SchoolRules] = {}
        self._occupancy = Occupancy()
        self._published: set[str] = set()
        self._refreshed = float("-inf")
        self._ticks = 0
        #: Seconds the last tick took (evaluation and lifecycle), for the metrics and tests.
        self.last_tick_s = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- caches ------------------------------------------------------------------------------

    def rules_for(self, school: str) -> AlertRules:
        """The school's effective rules."""
        found = self._schools.get(school)
        return found.rules if found is not None else DEFAULT_RULES

    def _webhook_for(self, school: str) -> str:
        found = self._schools.get(school)
        return found.webhook_url if found is not None else ""

    def set_school_rules(self, school: str, rules: SchoolRules) -> None:
        """Use a school's new rules from the next tick (the API calls this after saving)."""
        self._schools = {**self._schools, school: rules}

    def refresh(self) -> None:
        """Reload the schools' rules and the timetable from the database."""
        self._refreshed = time.monotonic()  # a failed reload waits its turn too, not every tick
        self._schools = load_all(self.engine)
        self._occupancy = load_occupancy(self.engine)

    def inventory_changed(self) -> None:
        """Re-read the inventory (after an import), so new rows follow the edges' reports."""
        self.inventory.load()

    # -- the tick ------------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> dict[str, Condition]:
        """One evaluation at ``now`` (default: the clock); the conditions that held."""
        started = time.perf_counter()
        now = now or datetime.now(UTC)
        edges, devices = self.live.health_snapshot()
        rules = {school: found.rules for school, found in self._schools.items()}
        conditions = evaluate(edges, devices, now, rules=rules, occupancy=self._occupancy,
                              active=self.tracker.active())
        self.tracker.step(conditions, now, self.rules_for)
        counts = self.tracker.counts_by_school()
        for school in self._published | set(counts):
            self.live.set_open_alerts(school, counts.get(school, 0))
        self._published = set(counts)
        self._ticks += 1
        if self._ticks % self.inventory_every == 0:
            self.inventory.sync(edges)
        self.last_tick_s = time.perf_counter() - started
        return conditions

    # -- the thread ----------------------------------------------------------------------------

    def start(self) -> None:
        """Load rules, timetable, open alerts and inventory, then start ticking (and sending)."""
        self.refresh()
        self.tracker.load()
        self.inventory.load()
        self.sender.start()
        self._thread = threading.Thread(target=self._run, name="health-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop ticking, then stop the sender after its current round."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.sender.stop(timeout)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                if time.monotonic() - self._refreshed >= self.refresh_s:
                    self.refresh()
                self.tick()
            except Exception:  # noqa: BLE001 - a bad tick (database away) must not end watching
                log.exception("health evaluation failed; next tick in %.1f s", self.interval)
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay < 0:  # fell behind: do not try to catch up with a burst of ticks
                next_at, delay = time.monotonic(), 0.0
            self._stop.wait(delay)
