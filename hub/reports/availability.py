"""Edge availability over a period, from the history of state changes the registry keeps.

Each edge's timeline is its accepted status changes in time order. Time counts from the edge's
first known state (or the period's start when it was known before) to the period's end, or to
``now`` for a period not over yet. An edge with no history falls back to the registry's current
``state`` since ``since``. Known limit: a state is only as true as the statuses the edge sent;
between a crash and the next status the edge counts as in its last state.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hub.db.edge_history import EdgeStateChangeRow
from hub.db.models import DeviceRow, EdgeRow
from hub.reports.figures import EdgeFigures
from hub.reports.period import utc

ONLINE = "online"
#: States that say something about the edge (``unknown`` is the registry's placeholder).
KNOWN = frozenset({"online", "offline"})


def fold(changes: Iterable[tuple[datetime, str]], start: datetime, stop: datetime
         ) -> tuple[float, float]:
    """(observed, online) seconds within ``[start, stop)`` of a time-ordered state timeline."""
    observed = online = 0.0
    state: str | None = None
    since = start
    for ts, new in changes:
        moment = min(max(ts, start), stop)
        if state in KNOWN:
            span = (moment - since).total_seconds()
            observed += span
            online += span if state == ONLINE else 0.0
        state, since = new, moment
    if state in KNOWN:
        span = (stop - since).total_seconds()
        observed += span
        online += span if state == ONLINE else 0.0
    return observed, online


def edge_availability(session: Session, schools: list[str] | None, start: datetime,
                      end: datetime, now: datetime) -> list[EdgeFigures]:
    """Every edge of ``schools`` (None: all) with its observed and online time in the period."""
    stop = max(start, min(end, now))
    edges = select(EdgeRow.school, EdgeRow.edge, EdgeRow.state, EdgeRow.since)
    if schools is not None:
        edges = edges.where(EdgeRow.school.in_(schools))
    devices = dict(((s, e), n) for s, e, n in session.execute(
        select(DeviceRow.school, DeviceRow.edge, func.count()).group_by(
            DeviceRow.school, DeviceRow.edge)))
    history: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
    for school, edge, ts, state in _changes(session, schools, start, stop):
        history.setdefault((school, edge), []).append((ts, state))
    out = []
    for school, edge, state, since in session.execute(edges.order_by(EdgeRow.school,
                                                                     EdgeRow.edge)):
        timeline = history.get((school, edge))
        if timeline is None:
            timeline = [(utc(since), state)] if since is not None and utc(since) < stop else []
        figures = EdgeFigures(school, edge, devices.get((school, edge), 0), state)
        figures.observed_s, figures.online_s = fold(timeline, start, stop)
        out.append(figures)
    return out


def _changes(session: Session, schools: list[str] | None, start: datetime, stop: datetime
             ) -> list[tuple[str, str, datetime, str]]:
    """The changes inside the period, plus each edge's last change before it (its state then)."""
    table = EdgeStateChangeRow
    last_before = (select(table.school, table.edge, func.max(table.ts).label("ts"))
                   .where(table.ts < start).group_by(table.school, table.edge).subquery())
    query = (select(table.school, table.edge, table.ts, table.state)
             .outerjoin(last_before, (last_before.c.school == table.school)
                        & (last_before.c.edge == table.edge))
             .where(table.ts < stop,
                    or_(table.ts >= start, table.ts == last_before.c.ts)))
    if schools is not None:
        query = query.where(table.school.in_(schools))
    rows = session.execute(query.order_by(table.school, table.edge, table.ts, table.id)).all()
    return [(school, edge, utc(ts), state) for school, edge, ts, state in rows]
