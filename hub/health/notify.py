"""Alert events POSTed to each school's alert webhook, from the outbox, with retries and backoff.

The same delivery as parents' notifications (``hub.services.attendance_notify``): claimed with a
lease (``SKIP LOCKED`` on PostgreSQL), POSTed with an ``Idempotency-Key``, marked sent; a round
of quick retries, then exponential backoff between rounds. Events of one alert go in order: an
event waits while an earlier one of the same alert is unsent, so "resolved" never overtakes
"opened". The sender runs in its own thread, woken when the evaluator queues something, so a
slow or dead receiver never delays evaluation.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from hub.db.alerts import AlertNotificationRow, AlertRulesRow
from hub.services.attendance_notify import LEASE, WebhookPoster, record_delivery

log = logging.getLogger(__name__)


class AlertWebhookSender:
    """A thread that sends due alert events every ``interval`` seconds, or when woken."""

    def __init__(self, engine: Engine, *, interval: float = 5.0, batch: int = 100,
                 timeout: float = 5.0, attempts: int = 3, retry_wait: float = 0.2,
                 backoff: timedelta = timedelta(seconds=5),
                 max_backoff: timedelta = timedelta(hours=1)) -> None:
        self.engine, self.interval, self.batch = engine, interval, batch
        self.backoff, self.max_backoff = backoff, max_backoff
        self._poster = WebhookPoster(timeout=timeout, attempts=attempts, retry_wait=retry_wait)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the sending thread."""
        self._thread = threading.Thread(target=self._run, name="alert-webhook", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Send now rather than at the next interval (something was queued)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current round; close the HTTP client."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._poster.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.deliver_pending()
            except Exception:  # noqa: BLE001 - the database may be briefly away; try next round
                log.exception("alert webhook round failed")
            self._wake.wait(self.interval)

    def deliver_pending(self) -> int:
        """One round: claim due events, POST them, record the result; how many were sent."""
        now = datetime.now(UTC)
        # An event waits while an earlier one of its alert is unsent and not due with it
        # (backing off, or claimed by another worker); due ones come first in this batch.
        earlier = aliased(AlertNotificationRow)
        waiting_behind = exists().where(and_(
            earlier.alert_id == AlertNotificationRow.alert_id,
            earlier.id < AlertNotificationRow.id, earlier.sent_at.is_(None),
            or_(earlier.next_attempt_at.is_(None), earlier.next_attempt_at > now)))
        with Session(self.engine) as session, session.begin():
            rows = session.execute(
                select(AlertNotificationRow.id, AlertNotificationRow.alert_id,
                       AlertNotificationRow.key,
                       AlertNotificationRow.payload, AlertRulesRow.webhook_url)
                .outerjoin(AlertRulesRow, AlertRulesRow.school == AlertNotificationRow.school)
                .where(AlertNotificationRow.sent_at.is_(None),
                       AlertNotificationRow.next_attempt_at <= now, ~waiting_behind)
                .order_by(AlertNotificationRow.id).limit(self.batch)
                .with_for_update(skip_locked=True, of=AlertNotificationRow)).all()
            for claimed in rows:
                session.get_one(AlertNotificationRow, claimed.id).next_attempt_at = now + LEASE
        sent = 0
        failed_alerts: set[int] = set()
        for notification_id, alert_id, key, payload, url in rows:
            if alert_id in failed_alerts:
                self._release(notification_id)  # behind a failed event of its alert
                continue
            tries, error = self._poster.send(url, key, payload,
                                             missing="no alert webhook configured for the school")
            with Session(self.engine) as session, session.begin():
                row = session.get_one(AlertNotificationRow, notification_id)
                delay = record_delivery(row, tries, error, self.backoff, self.max_backoff)
                if delay is None:
                    sent += 1
                else:
                    failed_alerts.add(alert_id)
                    log.warning("alert event %s not delivered (%s); next try in %s", key, error,
                                delay)
        return sent

    def _release(self, notification_id: int) -> None:
        """Give a claimed event back untried (its lease would otherwise hold it for minutes)."""
        with Session(self.engine) as session, session.begin():
            session.get_one(AlertNotificationRow, notification_id).next_attempt_at = \
                datetime.now(UTC)
