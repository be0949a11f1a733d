"""The city wall's figures: every school's live summary grouped by area, and the city's totals.

``city_figures`` is pure: the live state's per-school summaries (``LiveState.school_summaries``,
all from memory), the schools' names and areas, and the area map in; JSON-ready figures out.
``CityView`` puts the three together for the routes and keeps the last result per version.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hub.ingest.service import CITY_TIMEZONE
from hub.live import LiveState
from hub.web.areas import AreaMap
from hub.web.directory import SchoolDirectory, SchoolInfo

#: Share of a group's edges online from which it is healthy, and below which it is bad.
ONLINE_GOOD, ONLINE_BAD = 0.95, 0.80
#: Open alerts per school from which a group is bad (any open alert makes it a warning).
ALERTS_BAD_PER_SCHOOL = 2
#: Health levels from best to worst; "none" is a group with nothing to judge by yet.
LEVELS = ("none", "good", "warn", "bad")

#: Per-school figures added up for areas and for the city.
SUMMED = ("edges_online", "edges_total", "alerts_open", "rooms_over_co2", "arrivals_today",
          "taps_today", "taps_per_min", "payments_today", "payments_per_min", "dong_today",
          "loans_today")
#: Counts of one day: a school's counts of an earlier day are nothing today.
DAILY = ("arrivals_today", "taps_today", "payments_today", "dong_today", "loans_today")
#: How long a computed result serves streams that wake at the same version (rates move with
#: time alone, so not forever).
CACHE_S = 1.0
#: Schools the wall lists as needing attention, worst first: the screen has room for a few,
#: and the stream must stay small with the city's 2,000 schools.
ATTENTION_LIMIT = 12


def health_level(edges_online: int, edges_total: int, alerts_open: int, schools: int) -> str:
    """How a school or an area is: the worse of its share of edges online and its open alerts."""
    if edges_total == 0 and alerts_open == 0:
        return "none"
    level = "good"
    if edges_total:
        share = edges_online / edges_total
        level = "good" if share >= ONLINE_GOOD else "warn" if share >= ONLINE_BAD else "bad"
    if alerts_open:
        alerts = "bad" if alerts_open >= ALERTS_BAD_PER_SCHOOL * max(schools, 1) else "warn"
        level = max(level, alerts, key=LEVELS.index)
    return level


def _school_row(school: str, summary: Mapping[str, Any] | None, info: SchoolInfo | None,
                area_map: AreaMap, today: str) -> dict[str, Any]:
    row: dict[str, Any] = {"school": school, "name": info.name if info else school,
                           "area": info.area if info else ""}
    row["tile"] = area_map.tile_of(row["area"])
    stale_day = summary is not None and summary.get("day") not in ("", today)
    for name in SUMMED:
        # "alerts_open" comes from the health monitor; a hub without one has none open.
        row[name] = summary.get(name, 0) if summary and not (stale_day and name in DAILY) else 0
    row["co2_max_ppm"] = summary.get("co2_max_ppm") if summary else None
    row["health"] = health_level(row["edges_online"], row["edges_total"], row["alerts_open"], 1)
    return row


def _group(rows: list[dict[str, Any]]) -> dict[str, Any]:
    group = {name: sum(row[name] for row in rows) for name in SUMMED}
    group["schools"] = len(rows)
    group["health"] = health_level(group["edges_online"], group["edges_total"],
                                   group["alerts_open"], len(rows))
    return group


def _severity(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (-LEVELS.index(row["health"]), row["edges_online"] - row["edges_total"],
            -row["alerts_open"], -row["rooms_over_co2"], row["name"])


def needing_attention(rows: list[dict[str, Any]],
                      limit: int = ATTENTION_LIMIT) -> list[dict[str, Any]]:
    """Schools in trouble or on watch, or with a room over the CO2 limit: worst first."""
    flagged = [row for row in rows if row["health"] in ("warn", "bad") or row["rooms_over_co2"]]
    return sorted(flagged, key=_severity)[:limit]


def city_figures(summaries: Mapping[str, Mapping[str, Any]], schools: Mapping[str, SchoolInfo],
                 area_map: AreaMap, today: str) -> dict[str, Any]:
    """Schools (those with live data and those the database knows), areas and city totals;
    ``today`` (ISO date in the city) drops counts a school last made on an earlier day."""
    rows = [_school_row(school, summaries.get(school), schools.get(school), area_map, today)
            for school in sorted(set(summaries) | set(schools))]
    by_tile: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_tile.setdefault(row["tile"], []).append(row)
    areas = [{"id": tile.id, **_group(by_tile.get(tile.id, []))}
             for tile in (*area_map.areas, area_map.other)]
    totals = _group(rows)
    totals["students_present"] = totals["arrivals_today"]
    return {"map": area_map.id, "totals": totals, "areas": areas,
            "attention": needing_attention(rows), "schools": rows}


class CityView:
    """The city figures of one live state, with names and areas from a ``SchoolDirectory``."""

    def __init__(self, live: LiveState, directory: SchoolDirectory, area_map: AreaMap) -> None:
        self.live = live
        self.directory = directory
        self.area_map = area_map
        self._lock = threading.Lock()
        self._cached: tuple[int, float, dict[str, Any]] | None = None

    def figures(self) -> dict[str, Any]:
        """The figures now, with the live state's version they include."""
        version = self.live.version
        now = time.monotonic()
        with self._lock:
            cached = self._cached
            if cached is not None and cached[0] == version and now - cached[1] < CACHE_S:
                return cached[2]
        # Read the version first: the figures include at least that much of the state.
        today = datetime.now(CITY_TIMEZONE).date().isoformat()
        payload = {"version": version, **city_figures(self.live.school_summaries(),
                                                      self.directory.all(), self.area_map, today)}
        with self._lock:
            self._cached = (version, now, payload)
        return payload
