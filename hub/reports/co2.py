"""Hours each room spent above its CO2 limit, from InfluxDB through the v1 ``/query`` API.

Readings are averaged per room in 10-minute intervals (all CO2 devices of a room together); an
interval whose mean is above the limit counts as 10 minutes over. InfluxDB does the averaging
and the counting (a subquery), so only one row per room crosses the network.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import urllib3

from hub.ingest.lineproto import timestamp_ns
from hub.reports.errors import ReportError
from hub.reports.figures import RoomFigures

log = logging.getLogger(__name__)

MEASUREMENT, FIELD = "co2", "co2_ppm"
DEFAULT_LIMIT_PPM = 1500.0
INTERVAL = "10m"


@dataclass(frozen=True, slots=True)
class InfluxSource:
    """Where telemetry is: a v1 ``/query`` endpoint (InfluxDB 1.x, or 2.x/3.x compatibility)."""

    url: str
    database: str
    token: str | None = None
    timeout_s: float = 60.0


def _ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def co2_queries(start: datetime, end: datetime, schools: list[str] | None, limit: float
                ) -> tuple[str, str]:
    """The two InfluxQL statements: intervals measured with their peak, and intervals over."""
    where = f"time >= {timestamp_ns(start)} AND time < {timestamp_ns(end)}"
    if schools is not None:
        where += " AND (" + " OR ".join(f'"school" = {_literal(s)}' for s in schools) + ")"
    inner = (f"SELECT mean({_ident(FIELD)}) AS ppm FROM {_ident(MEASUREMENT)} WHERE {where} "
             f'GROUP BY time({INTERVAL}), "school", "room" fill(none)')
    span = f"time >= {timestamp_ns(start)} AND time < {timestamp_ns(end)}"
    measured = f'SELECT count(ppm), max(ppm) FROM ({inner}) WHERE {span} GROUP BY "school", "room"'
    over = (f'SELECT count(ppm) FROM ({inner}) WHERE {span} AND ppm > {float(limit)!r} '
            f'GROUP BY "school", "room"')
    return measured, over


def _query(source: InfluxSource, statement: str) -> list[dict[str, Any]]:
    http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5,
                                                                      read=source.timeout_s))
    headers = {"Authorization": f"Token {source.token}"} if source.token else {}
    try:
        resp = http.request("POST", f"{source.url.rstrip('/')}/query", headers=headers,
                            fields={"db": source.database, "q": statement, "epoch": "ns"},
                            encode_multipart=False)
    except urllib3.exceptions.HTTPError as error:
        raise ReportError("Không kết nối được InfluxDB", f"InfluxDB unreachable: {error}") from error
    finally:
        http.clear()
    if resp.status >= 300:
        raise ReportError(f"InfluxDB trả lỗi {resp.status}",
                          f"InfluxDB answered {resp.status}: {resp.data[:300]!r}")
    body = json.loads(resp.data)
    series: list[dict[str, Any]] = []
    for result in body.get("results", []):
        if "error" in result:
            raise ReportError("Truy vấn InfluxDB lỗi", f"InfluxDB query error: {result['error']}")
        series.extend(result.get("series", []))
    return series


def rooms_over_limit(source: InfluxSource, start: datetime, end: datetime,
                     schools: list[str] | None, limit: float = DEFAULT_LIMIT_PPM
                     ) -> list[RoomFigures]:
    """Every room with CO2 readings in ``[start, end)``: intervals measured, over, and peak."""
    measured, over = co2_queries(start, end, schools, limit)
    rooms: dict[tuple[str, str], RoomFigures] = {}
    for series in _query(source, measured):
        tags = series.get("tags", {})
        key = (tags.get("school", ""), tags.get("room", ""))
        count, peak = series["values"][0][1:3]
        rooms[key] = RoomFigures(*key, intervals=int(count or 0), peak_ppm=peak)
    for series in _query(source, over):
        tags = series.get("tags", {})
        key = (tags.get("school", ""), tags.get("room", ""))
        rooms.setdefault(key, RoomFigures(*key)).intervals_over = int(series["values"][0][1] or 0)
    log.info("CO2 report: %s rooms with readings", len(rooms))
    return [rooms[key] for key in sorted(rooms)]
