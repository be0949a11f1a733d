"""What the health API shows, built from a snapshot of the live state (no database scans)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from hub.db.inventory import InventoryRow
from hub.health.occupancy import room_key
from hub.live import DeviceHealthLive, DeviceLive, EdgeLive


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def edge_rooms(edge: EdgeLive, devices: Iterable[DeviceLive] = ()) -> list[str]:
    """The rooms an edge's devices serve."""
    rooms = {h.room for h in edge.health.values() if h.room}
    rooms |= {d.room for d in devices if d.room}
    return sorted(rooms)


def _newest(devices: Iterable[DeviceLive]) -> datetime | None:
    return max((d.ts for d in devices if d.ts is not None), default=None)


def edge_summary(edge: EdgeLive, rooms: list[str], alerts_open: int,
                 last_reading: datetime | None = None) -> dict[str, Any]:
    """One edge's health in a list."""
    health = edge.health.values()
    return {
        "school": edge.school, "edge": edge.edge, "state": edge.state, "since": _iso(edge.since),
        "last_seen": _iso(edge.last_seen), "fw": edge.fw, "uptime_s": edge.uptime_s,
        "cpu_pct": edge.cpu_pct, "mem_pct": edge.mem_pct, "disk_pct": edge.disk_pct,
        "temp_c": edge.temp_c, "outbox": edge.outbox, "outbox_refused": edge.outbox_refused,
        "last_reading": _iso(last_reading),
        "rooms": rooms,
        "devices_total": len(edge.health),
        "devices_failing": sum(1 for h in health if h.ok is False),
        "errors": sum(h.errors for h in health),
        "alerts_open": alerts_open,
    }


def select_edges(edges: Iterable[EdgeLive], devices: Iterable[DeviceLive], *,
                 visible: Callable[[str], bool], school: str | None = None,
                 room: str | None = None, state: str | None = None,
                 alerts: Mapping[tuple[str, str], int] | None = None) -> list[dict[str, Any]]:
    """The edges the caller may see that match the filters, as summaries, sorted."""
    by_edge: dict[tuple[str, str], list[DeviceLive]] = {}
    for device in devices:
        by_edge.setdefault((device.school, device.edge), []).append(device)
    wanted_room = room_key(room) if room else None
    out = []
    for edge in edges:
        if not visible(edge.school) or (school is not None and edge.school != school):
            continue
        if state is not None and edge.state != state:
            continue
        mine = by_edge.get((edge.school, edge.edge), [])
        rooms = edge_rooms(edge, mine)
        if wanted_room is not None and wanted_room not in {room_key(r) for r in rooms}:
            continue
        out.append(edge_summary(edge, rooms, (alerts or {}).get((edge.school, edge.edge), 0),
                                _newest(mine)))
    return sorted(out, key=lambda e: (e["school"], e["edge"]))


def _device(device: str, health: DeviceHealthLive | None,
            reading: DeviceLive | None) -> dict[str, Any]:
    return {
        "device": device,
        "kind": (health.kind if health and health.kind else reading.kind if reading else ""),
        "model": health.model if health else "",
        "room": (health.room if health and health.room else reading.room if reading else ""),
        "ok": health.ok if health else None,
        "errors": health.errors if health else 0,
        "last_ts": _iso(health.last_ts) if health else None,
        "reported": _iso(health.reported) if health else None,
        "values": dict(reading.values) if reading else {},
        "values_ts": _iso(reading.ts) if reading else None,
    }


def inventory_out(row: InventoryRow) -> dict[str, Any]:
    """One inventory row as the API shows it."""
    return {"asset_tag": row.asset_tag, "model": row.model, "school": row.school,
            "edge": row.edge, "device": row.device, "room": row.room,
            "install_date": row.install_date.isoformat() if row.install_date else None,
            "warranty_until": row.warranty_until.isoformat() if row.warranty_until else None,
            "firmware": row.firmware}


def edge_detail(edge: EdgeLive, devices: Iterable[DeviceLive], alerts_open: int,
                inventory: Iterable[InventoryRow], alerts: list[dict[str, Any]]
                ) -> dict[str, Any]:
    """One edge with every device (health and latest readings), its hardware and alerts."""
    readings = {d.device: d for d in devices}
    names = sorted(set(edge.health) | set(readings))
    return {
        **edge_summary(edge, edge_rooms(edge, readings.values()), alerts_open,
                       _newest(readings.values())),
        "outbox_before": edge.outbox_before,
        "devices": [_device(n, edge.health.get(n), readings.get(n)) for n in names],
        "inventory": [inventory_out(r) for r in inventory],
        "alerts": alerts,
    }
