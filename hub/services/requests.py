"""Requests from edges (``tap``, ``pay``, ...): decided once, answered, then acknowledged.

A batch of requests is decided in ONE transaction (group commit: one fsync for many payments),
each inside its own savepoint so a failing request cannot undo its neighbours. The request's
``id`` is the primary key of ``processed_requests``: a retry, even one that reaches another hub
worker, finds the stored answer and gets it again, byte for byte. Answers are published after
the commit and the MQTT message is acknowledged after that, so a hub killed at any instant
either never decided (the broker redelivers) or decided and can answer again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hub.db.people import ProcessedRequestRow
from hub.ingest.batcher import BatchWorker, RetryableError
from hub.ingest.mqtt import Delivery
from hub.ingest.router import Incoming
from hub.metrics import HubMetrics
from protocol import Code, Response, topics
from protocol.topics import Topic

log = logging.getLogger(__name__)

#: Requests per transaction: large enough to share one commit, small enough to answer fast.
REQUEST_BATCH = 500
#: No waiting for more requests: a batch is what queued while the last one was decided and
#: committed, so a lone tap is answered at once and a busy hub's batches grow by themselves.
REQUEST_WAIT_S = 0.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a handler decided: a result code and the data for the reader's screen."""

    code: Code
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """One request as a handler sees it: who sent it, and the validated message."""

    school: str
    edge: str
    request: Any  # protocol Tap | Pay | Checkout | Checkin | Renew
    received_at: datetime


class _HandlerFailed(Exception):
    """A handler raised outside a savepoint: the batch is decided again, isolated."""


def _answer(request: Any, code: Code, data: dict[str, Any] | None = None) -> str:
    return Response.for_code(request.id, code, data).to_json().decode()


#: A handler decides one request inside the open transaction (flush, never commit). It may also
#: have a ``prepare(session, contexts)`` method, called once per batch with the requests it will
#: decide, to read what they need in a few set-based statements.
Handler = Callable[[Session, RequestContext], Outcome]


class RequestSink(BatchWorker[Incoming]):
    """Decides requests in group-committed batches, answers them, then acknowledges them."""

    sink_name = "requests"

    def __init__(self, *, engine: Engine, handlers: dict[str, Handler], metrics: HubMetrics,
                 ack: Callable[[Delivery], None],
                 publish: Callable[[str, bytes, int, bytes | None], None],
                 batch_size: int = REQUEST_BATCH, batch_wait: float = REQUEST_WAIT_S,
                 on_decided: Callable[[Topic, Any, str], None] | None = None) -> None:
        super().__init__(metrics=metrics, ack=ack, batch_size=batch_size, batch_wait=batch_wait)
        self.engine = engine
        self.handlers = handlers
        self.publish = publish
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._answers: list[tuple[Topic, bytes, bytes | None]] = []
        #: Told of every request decided (not replayed) once its batch is committed.
        self.on_decided = on_decided
        self._decided: list[tuple[Topic, Any, str]] = []

    def store(self, items: list[tuple[Topic, Any]]) -> None:
        """Decide the batch in one transaction; keep the answers to send after the commit."""
        try:
            answers, counts = self._decide_batch(items, isolate=False)
        except _HandlerFailed:
            # A handler raised: decide the batch again with a savepoint per request, so that
            # only the failing one is answered error.internal and its neighbours take effect.
            answers, counts = self._decide_batch(items, isolate=True)
        self._answers = answers
        self._decided = []
        for (topic, incoming), (request_type, code) in zip(items, counts, strict=True):
            self.metrics.requests.labels(request_type, code).inc()
            if code not in ("replayed", "unserved", "failed"):
                self._decided.append((topic, incoming.request, code))

    def _decide_batch(self, items: list[tuple[Topic, Any]], *, isolate: bool,
                      ) -> tuple[list[tuple[Topic, bytes, bytes | None]], list[tuple[str, str]]]:
        answers: list[tuple[Topic, bytes, bytes | None]] = []
        counts: list[tuple[str, str]] = []
        records: list[dict[str, Any]] = []
        now = datetime.now(UTC)
        try:
            with self._sessions.begin() as session:
                ids = [str(incoming.request.id) for _, incoming in items]
                rows = session.execute(
                    select(ProcessedRequestRow.id, ProcessedRequestRow.response)
                    .where(ProcessedRequestRow.id.in_(ids))).all()
                stored: dict[str, str] = {row[0]: row[1] for row in rows}
                if not isolate:
                    self._prepare(session, items, stored, now)
                for topic, incoming in items:
                    request = incoming.request
                    answer = stored.get(str(request.id))
                    if answer is None:
                        answer, code, record = self._decide(session, topic, request, now, isolate)
                        if record is not None:
                            records.append(record)
                            stored[record["id"]] = answer
                    else:
                        code = "replayed"
                    counts.append((request.type, code))
                    answers.append((topic, answer.encode(), incoming.correlation))
                if records:
                    # One statement for the whole batch: group commit saves round trips too.
                    session.execute(insert(ProcessedRequestRow), records)
        except (OperationalError, IntegrityError, DBAPIError) as error:
            raise RetryableError(str(error)) from error
        return answers, counts

    def _prepare(self, session: Session, items: list[tuple[Topic, Any]], stored: dict[str, str],
                 now: datetime) -> None:
        """Let handlers that can read what the whole batch needs in a few statements do so
        (``handler.prepare(session, contexts)``), instead of a few round trips per request."""
        contexts: dict[str, list[RequestContext]] = {}
        for topic, incoming in items:
            request = incoming.request
            if str(request.id) not in stored:
                contexts.setdefault(request.type, []).append(
                    RequestContext(topic.school, topic.edge, request, now))
        for request_type, batch in contexts.items():
            prepare = getattr(self.handlers.get(request_type), "prepare", None)
            if prepare is not None:
                try:
                    prepare(session, batch)
                except (OperationalError, DBAPIError):
                    raise
                except Exception as error:  # noqa: BLE001 - decided again, request by request
                    raise _HandlerFailed from error

    def _decide(self, session: Session, topic: Topic, request: Any, now: datetime,
                isolate: bool) -> tuple[str, str, dict[str, Any] | None]:
        """(answer, code, record to keep or None) for one request not decided before."""
        handler = self.handlers.get(request.type)
        if handler is None:
            # Nothing took effect, so nothing is recorded: a retry after an upgrade is decided.
            return _answer(request, Code.ERROR_UNAVAILABLE), "unserved", None
        context = RequestContext(topic.school, topic.edge, request, now)
        savepoint = session.begin_nested() if isolate else None
        try:
            outcome = handler(session, context)
            if savepoint is not None:
                session.flush()
        except (OperationalError, DBAPIError):
            raise  # the database itself: retry the whole batch
        except Exception as error:  # noqa: BLE001 - one request's bug must not undo the others
            if savepoint is None:
                raise _HandlerFailed from error
            savepoint.rollback()
            session.info.clear()  # handlers' per-transaction caches may hold what was undone
            log.exception("request %s (%s) failed in its handler", request.id, request.type)
            return _answer(request, Code.ERROR_INTERNAL), "failed", None
        if savepoint is not None:
            savepoint.commit()
        answer = _answer(request, outcome.code, outcome.data)
        record = {"id": str(request.id), "school": topic.school, "edge": topic.edge,
                  "device": request.device, "type": request.type, "code": outcome.code.value,
                  "response": answer, "ts": request.ts}
        return answer, outcome.code.value, record

    def after_store(self, items: list[tuple[Topic, Any]]) -> None:
        """Publish the answers of the committed batch (before the acks)."""
        for topic, answer, correlation in self._answers:
            self.publish(topics.resp(topic.school, topic.edge), answer, 1, correlation)
        self._answers = []
        if self.on_decided is not None:
            for topic, request, code in self._decided:
                self.on_decided(topic, request, code)
