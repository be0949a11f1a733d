"""Read queries of the registry for the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.db.models import DeviceRow, EdgeRow
from hub.db.registry import as_utc


def _iso(value: Any) -> str | None:
    ts = as_utc(value)
    return ts.isoformat() if ts is not None else None


def list_edges(engine: Engine, school: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
    """Edges (optionally of one school / in one state) with their devices, as JSON-ready dicts."""
    query = select(EdgeRow).order_by(EdgeRow.school, EdgeRow.edge)
    if school is not None:
        query = query.where(EdgeRow.school == school)
    if state is not None:
        query = query.where(EdgeRow.state == state)
    with Session(engine) as session:
        edges = session.scalars(query).all()
        device_query = select(DeviceRow).order_by(DeviceRow.device)
        if school is not None:
            device_query = device_query.where(DeviceRow.school == school)
        by_edge: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for d in session.scalars(device_query):
            by_edge.setdefault((d.school, d.edge), []).append({
                "device": d.device, "kind": d.kind, "model": d.model, "room": d.room,
                "ok": d.ok, "errors": d.errors, "last_ts": _iso(d.last_ts),
            })
        return [
            {
                "school": e.school, "edge": e.edge, "state": e.state, "since": _iso(e.since),
                "last_seen": _iso(e.last_seen), "fw": e.fw, "uptime_s": e.uptime_s,
                "cpu_pct": e.cpu_pct, "mem_pct": e.mem_pct, "disk_pct": e.disk_pct,
                "temp_c": e.temp_c, "outbox": e.outbox,
                "devices": by_edge.get((e.school, e.edge), []),
            }
            for e in edges
        ]
