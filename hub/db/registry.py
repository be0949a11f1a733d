"""The registry writer: applies births, Last Wills and heartbeats in small transactions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hub.db.edge_history import record_state_change
from hub.db.models import DeviceRow, EdgeRow
from hub.ingest.batcher import BatchWorker, RetryableError
from hub.ingest.devicemap import DeviceMap, status_takes_effect
from hub.ingest.mqtt import Delivery
from hub.metrics import HubMetrics
from protocol import EdgeState, Heartbeat, Status
from protocol.topics import Topic

log = logging.getLogger(__name__)

#: Updates per transaction: small, so a commit stays short and acks flow steadily.
REGISTRY_BATCH = 200


def as_utc(ts: datetime | None) -> datetime | None:
    """``ts`` in UTC; SQLite hands back naive datetimes that were stored as UTC."""
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _newest(a: datetime | None, b: datetime) -> datetime:
    a = as_utc(a)
    return b if a is None or b > a else a


def _ensure(session: Session, table: type[EdgeRow] | type[DeviceRow], values: dict[str, Any]) -> None:
    """Insert the row with these defaults unless it exists (safe against concurrent workers)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(table).values(**values).on_conflict_do_nothing())


def _edge(session: Session, school: str, edge: str) -> EdgeRow:
    _ensure(session, EdgeRow, {"school": school, "edge": edge, "state": "unknown", "fw": "",
                               "outbox": 0})
    query = select(EdgeRow).where(EdgeRow.school == school, EdgeRow.edge == edge)
    return session.scalars(query.with_for_update()).one()


def _device(session: Session, school: str, edge: str, device: str) -> DeviceRow:
    _ensure(session, DeviceRow, {"school": school, "edge": edge, "device": device,
                                 "kind": "unknown", "model": "", "room": "", "errors": 0})
    query = select(DeviceRow).where(
        DeviceRow.school == school, DeviceRow.edge == edge, DeviceRow.device == device
    )
    return session.scalars(query.with_for_update()).one()


def apply_status(session: Session, topic: Topic, status: Status,
                 received: datetime | None = None) -> None:
    """A birth or a Last Will, ordered by ``status_takes_effect``; a stale one changes nothing
    but the device list of a birth."""
    ts = as_utc(status.ts)
    assert ts is not None
    row = _edge(session, topic.school, topic.edge)
    row.last_seen = _newest(row.last_seen, ts)
    received = as_utc(received) or datetime.now(UTC)
    since = as_utc(status_takes_effect(status, as_utc(row.since), row.session, received))
    if since is not None:
        record_state_change(session, row, status.state.value, since)
        row.state, row.since = status.state.value, since
        row.session = status.session if status.state is EdgeState.ONLINE else None
        if status.state is EdgeState.ONLINE and status.fw:
            row.fw = status.fw
    elif status.state is EdgeState.OFFLINE:
        return
    for info in status.devices:
        device = _device(session, topic.school, topic.edge, info.id)
        device.kind, device.model, device.room = info.kind, info.model, info.room or ""


def apply_heartbeat(session: Session, topic: Topic, heartbeat: Heartbeat) -> None:
    """The box's health and each device's; an older heartbeat than the newest seen is skipped."""
    ts = as_utc(heartbeat.ts)
    assert ts is not None
    row = _edge(session, topic.school, topic.edge)
    last_seen = as_utc(row.last_seen)
    if last_seen is not None and ts < last_seen:
        return
    row.last_seen = ts
    row.uptime_s, row.cpu_pct, row.mem_pct = heartbeat.uptime_s, heartbeat.cpu_pct, heartbeat.mem_pct
    row.disk_pct, row.temp_c, row.outbox = heartbeat.disk_pct, heartbeat.temp_c, heartbeat.outbox
    for device_id, health in heartbeat.devices.items():
        device = _device(session, topic.school, topic.edge, device_id)
        device.ok, device.errors, device.last_ts = health.ok, health.errors, as_utc(health.last_ts)


class RegistryWriter(BatchWorker[Status | Heartbeat]):
    """Commits status and heartbeat updates, then acknowledges their QoS 1 messages."""

    sink_name = "registry"

    def __init__(self, *, engine: Engine, metrics: HubMetrics,
                 ack: Callable[[Delivery], None]) -> None:
        super().__init__(metrics=metrics, ack=ack, batch_size=REGISTRY_BATCH, batch_wait=0.02)
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def store(self, items: list[tuple[Topic, Any]]) -> None:
        """Apply the batch in one transaction."""
        try:
            with self._sessions.begin() as session:
                for topic, message in items:
                    if isinstance(message, Status):
                        apply_status(session, topic, message)
                    else:
                        apply_heartbeat(session, topic, message)
        except (OperationalError, IntegrityError) as error:
            raise RetryableError(str(error)) from error
        for _, message in items:
            kind = "status" if isinstance(message, Status) else "heartbeat"
            self.metrics.registry_updates.labels(kind).inc()


def load_device_map(engine: Engine, devices: DeviceMap) -> int:
    """Fill the in-memory map from the registry, so telemetry is tagged right after a restart."""
    with Session(engine) as session:
        rows = session.execute(select(DeviceRow.school, DeviceRow.edge, DeviceRow.device,
                                      DeviceRow.kind, DeviceRow.room)).all()
    for school, edge, device, kind, room in rows:
        devices.set_device(school, edge, device, kind, room)
    return len(rows)
