"""Generate the Grafana dashboards from the driver SPECs, so panels cannot drift from the data.

``python -m dashboards.build`` rewrites ``dashboards/json/*.json``; ``--check`` only compares and
exits 1 when a committed file differs from what this module generates.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboards.panels import (
    Limit,
    dashboard,
    grafana_unit,
    panel,
    quote,
    regex_filter,
    row,
    select,
    target,
    timeseries_custom,
    variable,
)
from device_drivers import registry

JSON_DIR = Path(__file__).resolve().parent / "json"

#: Classroom limits: CO2 1000 ppm is the usual ventilation target and 1500 the alarm the
#: technicians' alert rules use; PM2.5 25 / 50 µg/m³ (24-hour guideline values).
LIMITS = {"co2_ppm": Limit(1000, 1500), "pm25_ugm3": Limit(25, 50)}

#: People-facing names of readings: (Vietnamese, English).
NAMES = {
    "co2_ppm": ("CO2", "CO2"),
    "temp_c": ("Nhiệt độ", "Temperature"),
    "rh_pct": ("Độ ẩm", "Humidity"),
    "pm1_ugm3": ("Bụi PM1", "PM1"),
    "pm25_ugm3": ("Bụi mịn PM2.5", "PM2.5"),
    "pm10_ugm3": ("Bụi PM10", "PM10"),
    "noise_db": ("Độ ồn", "Noise"),
    "lux": ("Ánh sáng", "Light"),
    "power_w": ("Công suất", "Power"),
}

#: The classroom-air headline readings, in order; build fails if a SPEC stops declaring one.
HEADLINE = ("co2_ppm", "pm25_ugm3", "temp_c")

SCHOOL_VAR = variable("school", "Trường / School", 'SHOW TAG VALUES WITH KEY = "school"')
ROOM_VAR = variable("room", "Phòng / Room",
                    f'SHOW TAG VALUES WITH KEY = "room" WHERE {regex_filter("school", "school")}')
EDGE_VAR = variable("edge", "Hộp edge / Edge box",
                    f'SHOW TAG VALUES WITH KEY = "edge" WHERE {regex_filter("school", "school")}')


@dataclass(frozen=True, slots=True)
class Reading:
    """One field the hub writes: measurement (device kind), field name and unit."""

    kind: str
    field: str
    unit: str

    @property
    def vi(self) -> str:
        """Vietnamese name."""
        return NAMES.get(self.field, (self.field, self.field))[0]

    @property
    def en(self) -> str:
        """English name."""
        return NAMES.get(self.field, (self.field, self.field))[1]


def readings() -> list[Reading]:
    """Every (kind, field) the registered sensor families declare, in registry order."""
    seen: dict[tuple[str, str], Reading] = {}
    for name in registry.names():
        spec = registry.get(name)
        for measurement in spec.measurements:
            seen.setdefault((spec.kind, measurement.name),
                            Reading(spec.kind, measurement.name, measurement.unit))
    return list(seen.values())


def sensor_kinds(all_readings: list[Reading]) -> list[str]:
    """The measurements (device kinds) that carry readings, in first-seen order."""
    return list(dict.fromkeys(r.kind for r in all_readings))


def _find(all_readings: list[Reading], field: str) -> Reading:
    for reading in all_readings:
        if reading.field == field:
            return reading
    raise LookupError(f"no driver SPEC declares {field!r}; the classroom-air dashboard needs it")


def _room_series(reading: Reading) -> dict[str, Any]:
    limit = LIMITS.get(reading.field)
    query = select("mean", reading.field, reading.kind,
                   [regex_filter("school", "school"), regex_filter("room", "room")],
                   ["school", "room"])
    extra = f" Limits {limit.warn:g} / {limit.alarm:g}." if limit else ""
    return panel(
        "timeseries", f"{reading.vi} theo phòng",
        f"{reading.en} per room ({reading.unit}), mean per interval of "
        f"{reading.kind}.{reading.field}.{extra} Gaps: no readings.",
        [target("A", query, "$tag_school / $tag_room")],
        unit=grafana_unit(reading.unit), limit=limit, custom=timeseries_custom(limit),
        options={"legend": {"displayMode": "table", "placement": "right",
                            "calcs": ["max", "mean", "lastNotNull"]},
                 "tooltip": {"mode": "multi", "sort": "desc"}})


def _room_peaks(reading: Reading) -> dict[str, Any]:
    limit = LIMITS.get(reading.field)
    query = select("max", reading.field, reading.kind,
                   [regex_filter("school", "school"), regex_filter("room", "room")],
                   ["school", "room"], by_time=False)
    return panel(
        "bargauge", f"{reading.vi} cao nhất theo phòng",
        f"Highest {reading.en} per room over the time range ({reading.unit}).",
        [target("A", query, "$tag_school / $tag_room")],
        unit=grafana_unit(reading.unit), limit=limit, width=8,
        options={"orientation": "horizontal", "displayMode": "gradient",
                 "reduceOptions": {"calcs": ["max"], "fields": "", "values": False},
                 "showUnfilled": True})


def classroom_air(all_readings: list[Reading]) -> dict[str, Any]:
    """Classroom air: CO2, PM2.5 and temperature per room, then every other reading."""
    headline = [_find(all_readings, field) for field in HEADLINE]
    panels: list[dict[str, Any]] = [row("Không khí theo phòng / Air per room")]
    for reading in headline:
        panels.append(_room_series(reading))
    panels.append(row("Phòng vượt ngưỡng / Rooms over their limits"))
    panels += [_room_peaks(reading) for reading in headline]
    others = [r for r in all_readings if r not in headline]
    if others:
        panels.append(row("Các số đo khác / Other readings"))
        panels += [_room_series(reading) for reading in others]
    return dashboard(
        "smartschool-classroom-air", "Chất lượng không khí lớp học",
        "Classroom air: CO2 (limits 1000 / 1500 ppm), PM2.5 (25 / 50 µg/m³) and temperature "
        "per room, from the hub's InfluxDB. Generated by dashboards/build.py.",
        panels, [SCHOOL_VAR, ROOM_VAR])


def device_health(all_readings: list[Reading]) -> dict[str, Any]:
    """Device health: readings per device per minute (0 = silent) and each device's last one."""
    filters = [regex_filter("school", "school"), regex_filter("edge", "edge")]
    panels: list[dict[str, Any]] = []
    for kind in sensor_kinds(all_readings):
        panels.append(row(f"Thiết bị {kind} / {kind} devices"))
        per_minute = select("count", "seq", kind, filters, ["school", "edge", "device"],
                            every="1m", fill="0")
        panels.append(panel(
            "timeseries", f"Số bản tin mỗi phút: {kind}",
            f"Readings per device per minute (count of seq in {kind}); a drop to 0 is a silent "
            "device, a gap is a time nothing was stored.",
            [target("A", per_minute, "$tag_school / $tag_edge / $tag_device")],
            width=16, custom=timeseries_custom(None, bars=False),
            options={"legend": {"displayMode": "table", "placement": "right",
                                "calcs": ["min", "mean"]},
                     "tooltip": {"mode": "multi", "sort": "asc"}}))
        last = select("last", "seq", kind, filters, ["school", "edge", "device", "room"],
                      by_time=False)
        panels.append(panel(
            "table", f"Bản tin cuối: {kind}",
            f"Last reading per device of kind {kind} (its time and seq); an old time is a "
            "device gone silent.",
            [target("A", last, "", result_format="table")], width=8,
            options={"showHeader": True, "sortBy": [{"displayName": "Time", "desc": False}]}))
    return dashboard(
        "smartschool-device-health", "Sức khỏe thiết bị",
        "Device health: readings per device per minute from count(seq), per school and edge "
        "box; silent devices show as zeros. Generated by dashboards/build.py.",
        panels, [SCHOOL_VAR, EDGE_VAR], time_from="now-6h")


def overview(all_readings: list[Reading]) -> dict[str, Any]:
    """Overview: one figure per reading and readings per school for every sensor kind."""
    school = [regex_filter("school", "school")]
    panels: list[dict[str, Any]] = [row("Số đo trung bình / Average readings")]
    for reading in all_readings:
        limit = LIMITS.get(reading.field)
        query = select("mean", reading.field, reading.kind, school, [], fill="none")
        panels.append(panel(
            "stat", reading.vi,
            f"{reading.en} ({reading.unit}): mean of {reading.kind}.{reading.field} over the "
            "selected schools, latest interval.",
            [target("A", query, reading.en)], unit=grafana_unit(reading.unit), limit=limit,
            width=4, height=5,
            options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                     "colorMode": "background", "graphMode": "area", "textMode": "auto"}))
    panels.append(row("Bản tin theo trường / Readings per school"))
    for kind in sensor_kinds(all_readings):
        query = select("count", "seq", kind, school, ["school"], by_time=False)
        panels.append(panel(
            "bargauge", f"Số bản tin {kind} theo trường",
            f"Readings of kind {kind} stored per school over the time range.",
            [target("A", query, "$tag_school")], width=12,
            options={"orientation": "horizontal", "displayMode": "basic",
                     "reduceOptions": {"calcs": ["sum"], "fields": "", "values": False}}))
    board = dashboard(
        "smartschool-overview", "Tổng quan trường học thông minh",
        "Overview of every school: average readings and readings stored per school. "
        "Generated by dashboards/build.py.", panels, [SCHOOL_VAR])
    board["links"] = [{"type": "dashboards", "tags": ["smartschool"], "asDropdown": False,
                       "title": "Smartschool", "includeVars": True, "keepTime": True}]
    return board


def build() -> dict[str, dict[str, Any]]:
    """Every dashboard by file name."""
    all_readings = readings()
    boards = [overview(all_readings), classroom_air(all_readings), device_health(all_readings)]
    return {f"{board['uid']}.json": board for board in boards}


def render(board: dict[str, Any]) -> str:
    """The committed text of a dashboard (stable: same input, same bytes)."""
    return json.dumps(board, ensure_ascii=False, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the dashboards; 1 when a file is stale."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args(argv)
    stale = []
    JSON_DIR.mkdir(exist_ok=True)
    boards = build()
    for name, board in boards.items():
        path = JSON_DIR / name
        text = render(board)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    extra = sorted(p.name for p in JSON_DIR.glob("*.json") if p.name not in boards)
    for name in extra:
        print(f"not generated by build.py / không do build.py tạo: {name}", file=sys.stderr)
    if args.check and (stale or extra):
        print("stale / cần tạo lại: " + ", ".join(stale + extra), file=sys.stderr)
        return 1
    return 0


__all__ = ["build", "classroom_air", "device_health", "main", "overview", "quote", "readings",
           "render"]

if __name__ == "__main__":
    raise SystemExit(main())
