"""Parents' notifications: POSTs the outbox written with attendance records to each school's
webhook, with retries, and marks them sent.

Delivery is at least once: a row is claimed with a lease (``next_attempt_at`` pushed forward, with
``SKIP LOCKED`` on PostgreSQL so several hub workers never claim the same row), POSTed, then
marked sent. A hub that dies between the POST and the mark sends it again after the lease; the
``Idempotency-Key`` header (the notification's key) lets the receiver drop the repeat.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from hub.db.alerts import AlertNotificationRow
from hub.db.attendance import NotificationRow, SchoolWebhookRow

log = logging.getLogger(__name__)

#: A claimed row is not claimed again for this long (a POST with its retries takes less).
LEASE = timedelta(minutes=2)
#: After a failed round of retries, wait this long times 2**attempts (at most MAX_BACKOFF).
BACKOFF = timedelta(seconds=5)
MAX_BACKOFF = timedelta(hours=1)


class DeliveryError(Exception):
    """The receiver did not take the notification (network error or a non-2xx answer)."""


def record_delivery(row: NotificationRow | AlertNotificationRow, tries: int, error: str | None,
                    backoff: timedelta, max_backoff: timedelta) -> timedelta | None:
    """Note one delivery of an outbox row: sent, or its next try after a growing backoff;
    the delay when it failed, None when it was sent."""
    row.attempts += tries
    if error:
        delay = min(backoff * 2 ** min(row.attempts, 20), max_backoff)
        row.next_attempt_at = datetime.now(UTC) + delay
        row.last_error = error[:500]
        return delay
    row.sent_at, row.last_error = datetime.now(UTC), ""
    return None


class WebhookPoster:
    """POSTs one JSON payload with its ``Idempotency-Key``, with a few quick retries."""

    def __init__(self, *, timeout: float, attempts: int, retry_wait: float) -> None:
        self._client = httpx.Client(timeout=timeout,
                                    headers={"User-Agent": "smartschool-hub/1"})
        self._retrying = Retrying(stop=stop_after_attempt(attempts),
                                  wait=wait_exponential(multiplier=retry_wait, max=10),
                                  retry=retry_if_exception_type(DeliveryError), reraise=True)

    def send(self, url: str | None, key: str, payload: str, *, missing: str) -> tuple[int, str]:
        """(tries, error): error is "" when delivered, else why not (``missing`` without a URL)."""
        tries = 0
        try:
            if not url:
                raise DeliveryError(missing)
            for attempt in self._retrying:
                with attempt:
                    tries += 1
                    self._post(url, key, payload)
        except DeliveryError as failure:
            return tries, str(failure)
        return tries, ""

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def _post(self, url: str, key: str, payload: str) -> None:
        try:
            answer = self._client.post(url, content=payload.encode(), headers={
                "Content-Type": "application/json; charset=utf-8", "Idempotency-Key": key})
        except httpx.HTTPError as error:
            raise DeliveryError(f"{type(error).__name__}: {error}") from None
        if not answer.is_success:
            raise DeliveryError(f"HTTP {answer.status_code}")


class WebhookSender:
    """A thread that sends pending notifications every ``interval`` seconds."""

    def __init__(self, engine: Engine, *, interval: float = 2.0, batch: int = 100,
                 timeout: float = 5.0, attempts: int = 3, retry_wait: float = 0.2) -> None:
        self.engine, self.interval, self.batch = engine, interval, batch
        self._poster = WebhookPoster(timeout=timeout, attempts=attempts, retry_wait=retry_wait)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the sending thread."""
        self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current round; close the HTTP client."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._poster.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_pending()
            except Exception:  # noqa: BLE001 - the database may be briefly away; try next round
                log.exception("webhook delivery round failed")
            self._stop.wait(self.interval)

    def deliver_pending(self) -> int:
        """One round: claim due notifications, POST them, record the result; returns how many
        were sent."""
        now = datetime.now(UTC)
        with Session(self.engine) as session, session.begin():
            rows = session.execute(
                select(NotificationRow.id, NotificationRow.key, NotificationRow.payload,
                       SchoolWebhookRow.url)
                .outerjoin(SchoolWebhookRow, SchoolWebhookRow.school == NotificationRow.school)
                .where(NotificationRow.sent_at.is_(None), NotificationRow.next_attempt_at <= now)
                .order_by(NotificationRow.id).limit(self.batch)
                .with_for_update(skip_locked=True, of=NotificationRow)).all()
            for claimed in rows:
                session.get_one(NotificationRow, claimed.id).next_attempt_at = now + LEASE
        sent = 0
        for notification_id, key, payload, url in rows:
            tries, error = self._poster.send(url, key, payload,
                                             missing="no webhook configured for the school")
            with Session(self.engine) as session, session.begin():
                row = session.get_one(NotificationRow, notification_id)
                delay = record_delivery(row, tries, error, BACKOFF, MAX_BACKOFF)
                if delay is None:
                    sent += 1
                else:
                    log.warning("notification %s not delivered (%s); next try in %s", key, error,
                                delay)
        return sent
