"""Grafana JSON pieces (panels, targets, variables) for InfluxQL on the hub's datasource. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The datasource every panel reads; the same uid as in provisioning/datasources/influxdb.yaml.
DATASOURCE_UID = "smartschool-influx"
DATASOURCE = {"type": "influxdb", "uid": DATASOURCE_UID}
SCHEMA_VERSION = 39

# Grafana's unit ids for the units the driver SPECs declare; others are shown as a suffix.
_UNITS = {"ppm": "ppm", "µg/m³": "conμgm3", "°C": "celsius", "%": "percent", "dB": "dB",
          "lux": "lux", "W": "watt"}


@dataclass(frozen=True, slots=True)
class Limit:
    """Thresholds of one reading: warn at ``warn``, alarm at ``alarm`` (same unit)."""

    warn: float
    alarm: float


def grafana_unit(unit: str) -> str:
    """The Grafana unit id of a SPEC unit."""
    return _UNITS.get(unit, f"suffix: {unit}")


def quote(name: str) -> str:
    """An InfluxQL identifier in double quotes."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def regex_filter(tag: str, variable: str) -> str:
    """``"tag" =~ /^$var$/``: Grafana turns a multi-value or All variable into ``(a|b)``."""
    return f"{quote(tag)} =~ /^${variable}$/"


def select(function: str, field: str, measurement: str, filters: list[str],
           group_by: list[str], *, by_time: bool = True, every: str = "$__interval",
           fill: str = "null") -> str:
    """One InfluxQL SELECT of ``function(field)`` with the dashboard's time filter."""
    where = " AND ".join([*filters, "$timeFilter"])
    groups = ([f"time({every})"] if by_time else []) + [quote(tag) for tag in group_by]
    text = f"SELECT {function}({quote(field)}) FROM {quote(measurement)} WHERE {where}"
    if groups:
        text += " GROUP BY " + ", ".join(groups)
    if by_time:
        text += f" fill({fill})"
    return text


def target(ref: str, query: str, alias: str, result_format: str = "time_series") -> dict[str, Any]:
    """A raw InfluxQL target."""
    return {"refId": ref, "datasource": DATASOURCE, "query": query, "rawQuery": True,
            "resultFormat": result_format, "alias": alias}


def thresholds(limit: Limit | None) -> dict[str, Any]:
    """Green, then orange from ``warn``, red from ``alarm``."""
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    if limit is not None:
        steps += [{"color": "orange", "value": limit.warn}, {"color": "red", "value": limit.alarm}]
    return {"mode": "absolute", "steps": steps}


def panel(kind: str, title: str, description: str, targets: list[dict[str, Any]], *,
          unit: str = "none", limit: Limit | None = None, width: int = 12,
          height: int = 8, options: dict[str, Any] | None = None,
          custom: dict[str, Any] | None = None) -> dict[str, Any]:
    """A panel without id and position (``layout`` gives them)."""
    defaults: dict[str, Any] = {"unit": unit, "thresholds": thresholds(limit),
                                "color": {"mode": "palette-classic" if kind == "timeseries"
                                          else "thresholds"}}
    if custom is not None:
        defaults["custom"] = custom
    return {"type": kind, "title": title, "description": description, "datasource": DATASOURCE,
            "gridPos": {"h": height, "w": width, "x": 0, "y": 0},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options or {}, "targets": targets}


def timeseries_custom(limit: Limit | None, *, bars: bool = False) -> dict[str, Any]:
    """Line (or bar) drawing; limits drawn as dashed lines, gaps left as gaps."""
    return {"drawStyle": "bars" if bars else "line", "lineWidth": 1, "fillOpacity": 10,
            "spanNulls": False, "showPoints": "never",
            "thresholdsStyle": {"mode": "dashed" if limit is not None else "off"}}


def row(title: str) -> dict[str, Any]:
    """A row header."""
    return {"type": "row", "title": title, "collapsed": False, "panels": [],
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": 0}}


def layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Number panels and place them left to right, wrapping at Grafana's 24 columns."""
    x = y = row_height = 0
    placed = []
    for number, item in enumerate(panels, start=1):
        grid = dict(item["gridPos"])
        if x + grid["w"] > 24 or item["type"] == "row":
            x, y, row_height = 0, y + row_height, 0
        grid["x"], grid["y"] = x, y
        x += grid["w"]
        row_height = max(row_height, grid["h"])
        placed.append({"id": number, **item, "gridPos": grid})
    return placed


def variable(name: str, label: str, query: str) -> dict[str, Any]:
    """A multi-value query variable with All, refreshed when the time range changes."""
    return {"name": name, "label": label, "type": "query", "datasource": DATASOURCE,
            "query": query, "definition": query, "refresh": 2, "multi": True,
            "includeAll": True, "current": {}, "options": [], "sort": 1, "hide": 0,
            "regex": ""}


def dashboard(uid: str, title: str, description: str, panels: list[dict[str, Any]],
              variables: list[dict[str, Any]], *, time_from: str = "now-24h") -> dict[str, Any]:
    """A whole dashboard as Grafana stores it (no numeric id: the uid identifies it)."""
    return {
        "uid": uid, "title": title, "description": description,
        "tags": ["smartschool"], "timezone": "Asia/Ho_Chi_Minh", "editable": True,
        "graphTooltip": 1, "schemaVersion": SCHEMA_VERSION, "version": 1, "refresh": "1m",
        "time": {"from": time_from, "to": "now"}, "fiscalYearStartMonth": 0,
        "liveNow": False, "weekStart": "monday", "links": [],
        "annotations": {"list": []},
        "templating": {"list": variables},
        "panels": layout(panels),
    }
