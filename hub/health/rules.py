"""The alert rules as a pure function: live state + a school's rules + now -> active conditions.

No I/O and no clock of its own, so every rule can be tried with plain values. Hysteresis lives
here: a condition that is already active (its key in ``active``) holds until the value is back
below the limit minus a margin, so a CO2 reading wavering around 1500 ppm cannot flap. The delays
before an alert opens and after it clears belong to the lifecycle (``hub.health.alerts``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from hub.health.occupancy import Occupancy
from hub.live import DeviceLive, EdgeLive


class RuleName(StrEnum):
    """What an alert is about."""

    EDGE_OFFLINE = "edge_offline"
    DEVICE_SILENT = "device_silent"
    DEVICE_ERRORS = "device_errors"
    OUTBOX_GROWING = "outbox_growing"
    MESSAGES_REFUSED = "messages_refused"
    DISK_FULL = "disk_full"
    CPU_HOT = "cpu_hot"
    CO2_HIGH = "co2_high"
    PM25_HIGH = "pm25_high"


class Severity(StrEnum):
    """How urgent an alert is."""

    CRITICAL = "critical"
    WARNING = "warning"


SEVERITY = {
    RuleName.EDGE_OFFLINE: Severity.CRITICAL,
    RuleName.DISK_FULL: Severity.CRITICAL,
    RuleName.DEVICE_SILENT: Severity.WARNING,
    RuleName.DEVICE_ERRORS: Severity.WARNING,
    RuleName.OUTBOX_GROWING: Severity.WARNING,
    RuleName.MESSAGES_REFUSED: Severity.WARNING,
    RuleName.CPU_HOT: Severity.WARNING,
    RuleName.CO2_HIGH: Severity.WARNING,
    RuleName.PM25_HIGH: Severity.WARNING,
}

Kind = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


#: Each clear margin and the limit it is taken from.
_MARGINS = {"disk_clear_margin_pct": "disk_pct", "cpu_temp_clear_margin_c": "cpu_temp_c",
            "co2_clear_margin_ppm": "co2_ppm", "pm25_clear_margin_ugm3": "pm25_ugm3"}


class AlertRules(BaseModel):
    """A school's alert rules; the defaults here hold where a school set nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: A condition must hold this long before its alert opens ...
    open_after_s: Annotated[int, Field(ge=0, le=3600)] = 60
    #: ... and be gone this long before it resolves.
    clear_after_s: Annotated[int, Field(ge=0, le=3600)] = 120
    #: An edge offline longer than this (minutes) is an alert.
    edge_offline_min: Annotated[int, Field(ge=0, le=10_080)] = 5
    #: A device with no reading (nor, for on-demand kinds, no heartbeat entry) for this long.
    device_silent_s: Annotated[int, Field(ge=10, le=86_400)] = 300
    #: Kinds that speak only when used (a door reader at night): a heartbeat entry is enough.
    on_demand_kinds: Annotated[tuple[Kind, ...], Field(max_length=32)] = ("card-reader",)
    #: Outbox backlog (messages) above which a rising backlog is an alert.
    outbox_limit: Annotated[int, Field(ge=0, le=10_000_000)] = 1000
    disk_pct: Annotated[float, Field(ge=1, le=100)] = 90.0
    disk_clear_margin_pct: Annotated[float, Field(ge=0, le=50)] = 5.0
    cpu_temp_c: Annotated[float, Field(ge=20, le=150)] = 80.0
    cpu_temp_clear_margin_c: Annotated[float, Field(ge=0, le=50)] = 5.0
    co2_ppm: Annotated[float, Field(ge=400, le=10_000)] = 1500.0
    co2_clear_margin_ppm: Annotated[float, Field(ge=0, le=2000)] = 100.0
    pm25_ugm3: Annotated[float, Field(ge=1, le=1000)] = 50.0
    pm25_clear_margin_ugm3: Annotated[float, Field(ge=0, le=500)] = 5.0
    disabled: Annotated[tuple[RuleName, ...], Field(max_length=len(RuleName))] = ()

    @field_validator(*_MARGINS)
    @classmethod
    def _margin_below_limit(cls, margin: float, info: ValidationInfo) -> float:
        # A margin as large as its limit would keep an alert open for ever.
        limit_field = _MARGINS[str(info.field_name)]
        limit = info.data.get(limit_field)
        if limit is not None and margin >= limit:
            raise ValueError(f"must be smaller than {limit_field} ({limit:g})")
        return margin


DEFAULT_RULES = AlertRules()


@dataclass(frozen=True, slots=True)
class Condition:
    """One cause of an alert holding now."""

    key: str
    rule: RuleName
    severity: Severity
    school: str
    edge: str
    device: str
    room: str
    value: float
    limit: float
    vi: str
    en: str


def condition_key(rule: RuleName, school: str, edge: str, device: str = "") -> str:
    """``{rule}:{school}/{edge}[/{device}]``: the same cause always has the same key."""
    return f"{rule.value}:{school}/{edge}/{device}" if device else f"{rule.value}:{school}/{edge}"


def _n(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.1f}"


class _Collector:
    """Builds the conditions of one evaluation."""

    def __init__(self, active: Set[str]) -> None:
        self.active = active
        self.found: dict[str, Condition] = {}

    def over(self, key: str, value: float, limit: float, margin: float) -> bool:
        """Above ``limit``; or, for an active condition, not yet below ``limit - margin``."""
        return value >= limit - margin if key in self.active else value > limit

    def add(self, rule: RuleName, school: str, edge: str, device: str, room: str, value: float,
            limit: float, vi: str, en: str, key: str | None = None) -> None:
        key = key or condition_key(rule, school, edge, device)
        self.found[key] = Condition(key, rule, SEVERITY[rule], school, edge, device, room,
                                    float(value), float(limit), vi, en)


def evaluate(edges: Iterable[EdgeLive], devices: Iterable[DeviceLive], now: datetime, *,
             rules: Mapping[str, AlertRules] | None = None,
             occupancy: Occupancy | None = None,
             active: Set[str] = frozenset()) -> dict[str, Condition]:
    """Every condition holding at ``now`` (aware), by key.

    ``edges``/``devices`` are a snapshot of the live state; ``rules`` a school's overrides of
    DEFAULT_RULES; ``active`` the keys of unresolved alerts (for hysteresis).
    """
    rules = rules or {}
    occupancy = occupancy or Occupancy()
    out = _Collector(active)
    read_at: dict[tuple[str, str, str], datetime] = {}
    for device in devices:
        if device.ts is not None:
            read_at[(device.school, device.edge, device.device)] = device.ts
        school_rules = rules.get(device.school, DEFAULT_RULES)
        if device.values and device.ts is not None:
            _air(out, device, school_rules, now, occupancy)
    for edge in edges:
        school_rules = rules.get(edge.school, DEFAULT_RULES)
        _box(out, edge, school_rules, now)
        _devices(out, edge, school_rules, now, read_at)
    return out.found


def _box(out: _Collector, edge: EdgeLive, r: AlertRules, now: datetime) -> None:
    s, e = edge.school, edge.edge
    off = r.disabled
    if (RuleName.EDGE_OFFLINE not in off and edge.state == "offline" and edge.since is not None
            and now - edge.since >= timedelta(minutes=r.edge_offline_min)):
        minutes = (now - edge.since).total_seconds() / 60
        out.add(RuleName.EDGE_OFFLINE, s, e, "", "", minutes, r.edge_offline_min,
                f"Hộp {e} mất kết nối {minutes:.0f} phút" if minutes >= 1
                else f"Hộp {e} mất kết nối chưa tới 1 phút",
                f"Edge {e} offline for {minutes:.0f} min" if minutes >= 1
                else f"Edge {e} offline for under a minute")
    if edge.beat_ts is None:
        return  # no heartbeat yet: nothing known about the box's figures
    if RuleName.DISK_FULL not in off and edge.disk_pct is not None:
        key = condition_key(RuleName.DISK_FULL, s, e)
        if out.over(key, edge.disk_pct, r.disk_pct, r.disk_clear_margin_pct):
            out.add(RuleName.DISK_FULL, s, e, "", "", edge.disk_pct, r.disk_pct,
                    f"Ổ đĩa hộp {e} đầy {edge.disk_pct:.0f} %",
                    f"Disk of edge {e} {edge.disk_pct:.0f} % full", key)
    if RuleName.CPU_HOT not in off and edge.temp_c is not None:
        key = condition_key(RuleName.CPU_HOT, s, e)
        if out.over(key, edge.temp_c, r.cpu_temp_c, r.cpu_temp_clear_margin_c):
            out.add(RuleName.CPU_HOT, s, e, "", "", edge.temp_c, r.cpu_temp_c,
                    f"CPU hộp {e} nóng {edge.temp_c:.0f} °C",
                    f"CPU of edge {e} at {edge.temp_c:.0f} °C", key)
    if RuleName.OUTBOX_GROWING not in off and edge.outbox > r.outbox_limit:
        key = condition_key(RuleName.OUTBOX_GROWING, s, e)
        before = edge.outbox_before
        # Rising opens it; once open it holds while the backlog is not draining.
        holds = (before is None or edge.outbox >= before) if key in out.active else (
            before is not None and edge.outbox > before)
        if holds:
            out.add(RuleName.OUTBOX_GROWING, s, e, "", "", edge.outbox, r.outbox_limit,
                    f"Hàng đợi gửi của hộp {e} đang tăng: {edge.outbox} tin",
                    f"Outbox of edge {e} growing: {edge.outbox} messages", key)
    if RuleName.MESSAGES_REFUSED not in off and edge.outbox_refused > 0:
        # Nothing is lost (the box keeps them) but nothing more gets through on those topics
        # until the broker's ACL or the box's login is mended and a sync sends them again.
        n = edge.outbox_refused
        out.add(RuleName.MESSAGES_REFUSED, s, e, "", "", n, 0,
                f"Broker từ chối {n} tin của hộp {e} (kiểm tra ACL, tài khoản; "
                f"sửa xong gửi lệnh sync)",
                f"Broker refused {n} messages of edge {e} (check its ACL and login; "
                f"then send it sync)")


def _devices(out: _Collector, edge: EdgeLive, r: AlertRules, now: datetime,
             read_at: Mapping[tuple[str, str, str], datetime]) -> None:
    s, e = edge.school, edge.edge
    silent_check = RuleName.DEVICE_SILENT not in r.disabled and edge.state == "online"
    errors_check = RuleName.DEVICE_ERRORS not in r.disabled
    window = timedelta(seconds=r.device_silent_s)
    for device, h in edge.health.items():
        if errors_check and (h.ok is False or h.errors > h.errors_before):
            why_vi = "không hoạt động" if h.ok is False else "lỗi tăng"
            why_en = "not ok" if h.ok is False else "errors growing"
            out.add(RuleName.DEVICE_ERRORS, s, e, device, h.room, h.errors, h.errors_before,
                    f"Thiết bị {device} ({e}) {why_vi}: {h.errors} lỗi",
                    f"Device {device} on {e} {why_en}: {h.errors} errors")
        if not silent_check:
            continue  # an offline edge is one alert, not one per device
        # Since when we could have heard from it: its last reading, the edge's last return
        # online (a grace after a reconnect), and for on-demand kinds its heartbeat entry.
        signs = [read_at.get((s, e, device)), h.last_ts, edge.since, h.known]
        if h.kind in r.on_demand_kinds:
            signs.append(h.reported)
        heard = max((t for t in signs if t is not None), default=None)
        if heard is not None and now - heard > window:
            quiet = (now - heard).total_seconds()
            out.add(RuleName.DEVICE_SILENT, s, e, device, h.room, quiet, r.device_silent_s,
                    f"Thiết bị {device} ({e}) im lặng {quiet:.0f} giây",
                    f"Device {device} on {e} silent for {quiet:.0f} s")


_AIR = (
    (RuleName.CO2_HIGH, "co2_ppm", "co2_ppm", "co2_clear_margin_ppm", "CO2", "ppm"),
    (RuleName.PM25_HIGH, "pm25_ugm3", "pm25_ugm3", "pm25_clear_margin_ugm3", "PM2.5", "µg/m³"),
)


def _air(out: _Collector, d: DeviceLive, r: AlertRules, now: datetime,
         occupancy: Occupancy) -> None:
    assert d.ts is not None
    if now - d.ts > timedelta(seconds=r.device_silent_s):
        return  # an old reading says nothing about the room now (silence is its own rule)
    for rule, value_name, limit_field, margin_field, label, unit in _AIR:
        value = d.values.get(value_name)
        if value is None or rule in r.disabled:
            continue
        key = condition_key(rule, d.school, d.edge, d.device)
        limit = getattr(r, limit_field)
        if out.over(key, value, limit, getattr(r, margin_field)) and occupancy.occupied(
                d.school, d.room, now):
            out.add(rule, d.school, d.edge, d.device, d.room, value, limit,
                    f"{label} phòng {d.room} cao khi đang học: {_n(value)} {unit}",
                    f"{label} in room {d.room} high during a lesson: {_n(value)} {unit}", key)
