"""Requests from edges (``tap``, ``pay``, ...): decided once, answered, then acknowledged.

A batch of requests is decided in ONE transaction (group commit: one fsync for many payments),
each inside its own savepoint so a failing request cannot undo its neighbours. The request's
``id`` is the primary key of ``processed_requests``: a retry, even one that reaches another hub
worker, finds the stored answer and gets it again, byte for byte. Answers are published after
the commit and the MQTT message is acknowledged after that, so a hub killed at any instant
either never decided (the broker redelivers) or decided and can answer again.

The sink keeps one connection from batch to batch. On PostgreSQL the stored answers are read
with the transaction's ``BEGIN``, and the handlers' pending inserts, the answers' records and
the ``COMMIT`` go to the server together (:mod:`hub.services.batch_sql`): with the tap
handler's own read, a batch of taps costs three round trips and one fsync.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from hub.db.people import ProcessedRequestRow
from hub.ingest.batcher import BatchWorker, RetryableError
from hub.ingest.mqtt import Delivery
from hub.ingest.router import Incoming
from hub.metrics import HubMetrics
from hub.services.batch_sql import among, insert_rows, pipelined, read_together
from protocol import Code, Response, topics
from protocol.topics import Topic

log = logging.getLogger(__name__)

#: Requests per transaction: large enough to share one commit, small enough to answer fast.
REQUEST_BATCH = 500
#: No waiting for more requests: a batch is what queued while the last one was decided and
#: committed, so a lone tap is answered at once and a busy hub's batches grow by themselves.
REQUEST_WAIT_S = 0.0
#: The sink's connection is replaced when it is 1 s old, then 2, 4, 8... s, at most every 10
#: minutes. psycopg prepares the statements that run often and PostgreSQL keeps the generic plan
#: it made for each: made while the day's tables were small, it scans them whole as they grow
#: (a new install fell seconds behind within a minute, until autovacuum's first ANALYZE). A new
#: connection plans again, with the tables as they are now.
RENEW_FIRST_S, RENEW_MAX_S = 1.0, 600.0


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


#: ``inline``: nothing is read back (no RETURNING), so it can go with the commit.
_RECORD = insert(ProcessedRequestRow).inline()


@functools.cache
def _stored_answers(dialect: str) -> Select[str, str]:
    """The answers already given to a list of request ids, built once per dialect."""
    return (select(ProcessedRequestRow.id, ProcessedRequestRow.response)
            .where(among(ProcessedRequestRow.id, "ids", dialect)))


def _answer(request: Any, code: Code, data: dict[str, Any] | None = None) -> str:
    return Response.for_code(request.id, code, data).to_json().decode()


#: A handler decides one request inside the open transaction (flush, never commit). It may also
#: have a ``prepare(session, contexts)`` method, called once per batch with the requests it will
#: decide, to read what they need in a few set-based statements, and a ``finish(session)``
#: method, called before the answers are recorded (inside each request's savepoint when a batch
#: is decided request by request), to write what its calls left pending in a few statements.
#: ``finish`` writes with Core statements whose results it does not read: on PostgreSQL they go
#: to the server with the commit, in one round trip (:func:`hub.services.batch_sql.pipelined`).
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
        #: Kept from batch to batch: a pool checkout (and its ping) per batch cost a round trip.
        self._connection: Connection | None = None
        self._renew_every, self._renew_at = RENEW_FIRST_S, 0.0
        self._answers: list[tuple[Topic, bytes, bytes | None]] = []
        #: Told of every request decided (not replayed) once its batch is committed.
        self.on_decided = on_decided
        self._decided: list[tuple[Topic, Any, str]] = []

    def run(self) -> None:
        """The worker's loop; the kept connection goes back to the pool when it ends."""
        try:
            super().run()
        finally:
            self._drop_connection()

    def _batch_connection(self) -> Connection:
        """The kept connection; a new one when it is due for renewal (see ``RENEW_FIRST_S``)."""
        now = time.monotonic()
        if self._connection is not None and now >= self._renew_at:
            self._drop_connection(discard=True)  # a pooled one would keep its plans
            self._renew_every = min(self._renew_every * 2, RENEW_MAX_S)
        if self._connection is None:
            self._connection = self.engine.connect()
            self._renew_at = now + self._renew_every
        return self._connection

    def _drop_connection(self, discard: bool = False) -> None:
        if self._connection is not None:
            try:
                if discard:  # closed, not pooled (after an error its state is unknown)
                    self._connection.invalidate()
                self._connection.close()
            except DBAPIError:
                pass  # gone already
            self._connection = None

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
            with Session(bind=self._batch_connection(), expire_on_commit=False) as session:
                connection = session.connection()
                (rows,) = read_together(connection, (
                    _stored_answers(connection.dialect.name),
                    {"ids": [str(incoming.request.id) for _, incoming in items]}))
                stored: dict[str, str] = {row.id: row.response for row in rows}
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
                session.flush()  # the ORM's writes read their row counts: not pipelined
                # The batch's inserts, its answers and the commit: one round trip, one fsync.
                with pipelined(connection):
                    if not isolate:
                        self._finish(session, {incoming.request.type for _, incoming in items})
                    insert_rows(connection, _RECORD, records)
                    session.commit()
        except (OperationalError, IntegrityError, DBAPIError) as error:
            # The next try starts on a fresh connection (checked and pinged by the pool).
            self._drop_connection(discard=True)
            raise RetryableError(str(error)) from error
        return answers, counts

    def _finish(self, session: Session, request_types: set[str]) -> None:
        """Have the batch's handlers with a ``finish(session)`` write what they left pending
        (once per handler, whatever number of request types it serves)."""
        handlers = {id(handler): handler for request_type, handler in self.handlers.items()
                    if request_type in request_types}
        for handler in handlers.values():
            finish = getattr(handler, "finish", None)
            if finish is not None:
                try:
                    finish(session)
                except (OperationalError, DBAPIError):
                    raise
                except Exception as error:  # noqa: BLE001 - decided again, request by request
                    raise _HandlerFailed from error

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
                finish = getattr(handler, "finish", None)
                if finish is not None:
                    finish(session)
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
