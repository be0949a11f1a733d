"""The life of an alert: open after its condition held a while, acknowledged by a technician,
resolved once the cause has been gone a while; stored, and announced to the school's webhook.

The tracker keeps pending and unresolved alerts in memory and writes to the database only when
one opens or resolves, so the evaluation every second costs no query. Each write also queues
the webhook notification in the same transaction (the outbox that ``hub.health.notify`` sends),
so an alert event is never lost between the database and the webhook.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from hub.db.alerts import (
    ACKED,
    EVENT_ACKED,
    EVENT_OPENED,
    EVENT_RESOLVED,
    OPEN,
    RESOLVED,
    AlertNotificationRow,
    AlertRow,
    AlertRulesRow,
)
from hub.health.rules import AlertRules, Condition

log = logging.getLogger(__name__)


class AlertError(Exception):
    """An alert action that cannot be done; ``status`` is the HTTP answer."""

    def __init__(self, status: int, vi: str, en: str) -> None:
        super().__init__(en)
        self.status, self.vi, self.en = status, vi, en


def _iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    return (ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)).isoformat()


def alert_out(row: AlertRow) -> dict[str, Any]:
    """An alert as the API and the webhook show it."""
    return {"id": row.id, "key": row.key, "rule": row.rule, "severity": row.severity,
            "school": row.school, "edge": row.edge, "device": row.device, "room": row.room,
            "state": row.state, "value": row.value, "limit": row.threshold,
            "message": {"vi": row.message_vi, "en": row.message_en},
            "opened_at": _iso(row.opened_at), "acked_at": _iso(row.acked_at),
            "acked_by": row.acked_by, "resolved_at": _iso(row.resolved_at)}


def queue_notification(session: Session, row: AlertRow, event: str, now: datetime) -> None:
    """Put one event of ``row`` in the webhook outbox (in the caller's transaction)."""
    key = f"alert:{row.id}:{event}"
    body = {"key": key, "event": event, "alert": alert_out(row)}
    session.add(AlertNotificationRow(
        key=key, alert_id=row.id, school=row.school, event=event, attempts=0, last_error="",
        payload=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        next_attempt_at=now))


def _has_webhook(session: Session, school: str) -> bool:
    url = session.scalar(select(AlertRulesRow.webhook_url).where(AlertRulesRow.school == school))
    return bool(url)


def acknowledge(session: Session, alert_id: int, who: str, now: datetime) -> AlertRow:
    """Mark an open alert as taken by ``who``; a second ack keeps the first; 409 if resolved."""
    now = now.astimezone(UTC)
    row = session.get(AlertRow, alert_id, with_for_update=True)
    if row is None:
        raise AlertError(404, f"Không có cảnh báo {alert_id}", f"No alert {alert_id}")
    if row.state == RESOLVED:
        raise AlertError(409, "Cảnh báo đã tự hết, không cần xác nhận",
                         "The alert has already resolved")
    if row.state == OPEN:
        row.state, row.acked_at, row.acked_by = ACKED, now, who[:100]
        session.flush()
        if _has_webhook(session, row.school):
            queue_notification(session, row, EVENT_ACKED, now)
    return row


@dataclass(slots=True)
class _Unresolved:
    id: int
    school: str
    edge: str
    #: Since when its condition is gone (None while it holds).
    gone_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Transitions:
    """What one step changed: keys of the alerts opened and resolved."""

    opened: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()


class AlertTracker:
    """Pending and unresolved alerts in memory; ``step()`` once per evaluation."""

    def __init__(self, engine: Engine, *, webhook_for: Callable[[str], str] = lambda s: "",
                 on_queued: Callable[[], None] = lambda: None) -> None:
        self.engine = engine
        self._webhook_for = webhook_for
        self._on_queued = on_queued
        self._pending: dict[str, datetime] = {}
        self._unresolved: dict[str, _Unresolved] = {}
        self._lock = threading.Lock()

    def load(self) -> int:
        """Take over the unresolved alerts in the database (after a restart); how many."""
        with Session(self.engine) as session:
            rows = session.execute(select(AlertRow.key, AlertRow.id, AlertRow.school,
                                          AlertRow.edge).where(AlertRow.state != RESOLVED)).all()
        with self._lock:
            self._unresolved = {key: _Unresolved(i, s, e) for key, i, s, e in rows}
        return len(rows)

    def active(self) -> frozenset[str]:
        """Keys of the unresolved alerts (for the rules' hysteresis)."""
        with self._lock:
            return frozenset(self._unresolved)

    def counts_by_school(self) -> dict[str, int]:
        """Unresolved alerts per school."""
        with self._lock:
            counts: dict[str, int] = {}
            for alert in self._unresolved.values():
                counts[alert.school] = counts.get(alert.school, 0) + 1
            return counts

    def counts_by_edge(self) -> dict[tuple[str, str], int]:
        """Unresolved alerts per (school, edge)."""
        with self._lock:
            counts: dict[tuple[str, str], int] = {}
            for alert in self._unresolved.values():
                key = (alert.school, alert.edge)
                counts[key] = counts.get(key, 0) + 1
            return counts

    def step(self, conditions: Mapping[str, Condition], now: datetime,
             rules_for: Callable[[str], AlertRules]) -> Transitions:
        """Advance every alert by what holds at ``now``: open, keep, or resolve."""
        now = now.astimezone(UTC)  # SQLite keeps no offset: store UTC, read back as UTC
        opened: list[str] = []
        resolved: list[str] = []
        for key in [k for k in self._pending if k not in conditions]:
            del self._pending[key]  # it must hold without a break to open
        for key, condition in conditions.items():
            tracked = self._unresolved.get(key)
            if tracked is not None:
                tracked.gone_since = None
                continue
            since = self._pending.setdefault(key, now)
            if now - since >= timedelta(seconds=rules_for(condition.school).open_after_s):
                alert_id = self._open(condition, now)
                if alert_id is not None:
                    del self._pending[key]
                    with self._lock:
                        self._unresolved[key] = _Unresolved(alert_id, condition.school,
                                                            condition.edge)
                    opened.append(key)
        for key, tracked in list(self._unresolved.items()):
            if key in conditions:
                continue
            if tracked.gone_since is None:
                tracked.gone_since = now
            clear = timedelta(seconds=rules_for(tracked.school).clear_after_s)
            if now - tracked.gone_since >= clear and self._resolve(tracked.id, now):
                with self._lock:
                    del self._unresolved[key]
                resolved.append(key)
        if opened or resolved:
            self._on_queued()
        return Transitions(tuple(opened), tuple(resolved))

    def _open(self, c: Condition, now: datetime) -> int | None:
        """Insert the alert (and its notification); its id, or None to try again next step."""
        try:
            with Session(self.engine) as session, session.begin():
                row = AlertRow(key=c.key, rule=c.rule.value, severity=c.severity.value,
                               school=c.school, edge=c.edge, device=c.device, room=c.room,
                               state=OPEN, value=c.value, threshold=c.limit,
                               message_vi=c.vi[:300], message_en=c.en[:300], opened_at=now,
                               acked_by="")
                session.add(row)
                session.flush()
                if self._webhook_for(c.school):
                    queue_notification(session, row, EVENT_OPENED, now)
                log.info("alert %s opened: %s", c.key, c.en)
                return row.id
        except IntegrityError:
            # Another hub worker opened the same condition first: follow its alert.
            with Session(self.engine) as session:
                return session.scalar(select(AlertRow.id).where(AlertRow.key == c.key,
                                                                AlertRow.state != RESOLVED))
        except SQLAlchemyError as error:
            log.warning("alert %s not stored (%s); trying again", c.key, error)
            return None

    def _resolve(self, alert_id: int, now: datetime) -> bool:
        """Mark resolved (and queue its notification); False to try again next step."""
        try:
            with Session(self.engine) as session, session.begin():
                row = session.get(AlertRow, alert_id, with_for_update=True)
                if row is None or row.state == RESOLVED:
                    return True  # deleted, or resolved by another worker
                row.state, row.resolved_at = RESOLVED, now
                if self._webhook_for(row.school):
                    queue_notification(session, row, EVENT_RESOLVED, now)
                log.info("alert %s resolved", row.key)
                return True
        except SQLAlchemyError as error:
            log.warning("alert %s not resolved in the database (%s); trying again", alert_id,
                        error)
            return False
