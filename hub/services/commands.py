"""Commands to edges: recorded, published, acknowledged by the edge, or timed out.

A command is committed (state ``sent``, with its sender and deadline) before it is published at
QoS 1 on the edge's ``cmd`` topic, so a hub killed in between leaves a record that times out
rather than a command nobody knows of. Acks go through ``CommandAckWriter``: committed first,
then acknowledged to the broker (the hub acknowledges late). The first ack of a command decides;
a copy of it (the edge answers a redelivered command with the same ack) changes nothing.

Whether an ack is on time is judged by when the hub received it against the deadline, not by
whether the sweeper got there first: ``ok``/``failed`` by the deadline, ``late_ok``/
``late_failed`` after it. A late ack replaces a ``timeout``, keeping its own code and data, so
the record says both that the sender was told it timed out and what the edge did in the end.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from hub.db.commands import AWAITING_ACK, CommandRow, CommandState
from hub.db.models import EdgeRow
from hub.db.registry import as_utc
from hub.ingest.batcher import BatchWorker, RetryableError
from hub.ingest.mqtt import Delivery
from hub.ingest.router import RateLimitedLog
from hub.metrics import HubMetrics
from hub.services.command_rules import CommandError, CommandRequest
from protocol import MESSAGES, Code, Command, CommandAck, topics
from protocol.topics import Topic

log = logging.getLogger(__name__)

#: How often the sweeper looks for commands past their deadline.
SWEEP_EVERY_S = 0.5
#: Commands timed out per sweep transaction.
SWEEP_BATCH = 500
HISTORY_MAX = 200

#: ``(topic, payload, qos, correlation data, message expiry in seconds or None)``.
Publish = Callable[[str, bytes, int, bytes | None, int | None], None]


def _iso(value: datetime | None) -> str | None:
    ts = as_utc(value)
    return ts.isoformat() if ts is not None else None


def command_json(row: CommandRow) -> dict[str, Any]:
    """A command record as the API shows it."""
    ok = {CommandState.OK: True, CommandState.LATE_OK: True, CommandState.SENT: None}.get(
        CommandState(row.state), False)
    try:
        vi, en = MESSAGES[Code(row.code)] if row.code is not None else (None, None)
    except ValueError:  # a code newer than this hub: shown as it came
        vi, en = None, None
    msg = {"vi": vi, "en": en} if vi is not None else None
    return {
        "id": row.id, "school": row.school, "edge": row.edge, "cmd": row.cmd, "args": row.args,
        "state": row.state, "ok": ok, "code": row.code, "msg": msg, "data": row.data,
        "sent_by": {"subject": row.sent_by, "role": row.sent_role},
        "sent_at": _iso(row.sent_at), "deadline": _iso(row.deadline),
        "acked_at": _iso(row.acked_at),
    }


def apply_ack(session: Session, topic: Topic, ack: CommandAck, received_at: datetime) -> str:
    """Record ``ack`` on its command; the outcome: on_time, late, duplicate, unknown, mismatch."""
    row = session.get(CommandRow, str(ack.re), with_for_update=True)
    if row is None:
        return "unknown"
    if (row.school, row.edge) != (topic.school, topic.edge):
        return "mismatch"  # an edge answering for another edge's command: never trusted
    if CommandState(row.state) not in AWAITING_ACK:
        return "duplicate"
    deadline = as_utc(row.deadline)
    on_time = deadline is not None and received_at <= deadline
    if on_time:
        row.state = CommandState.OK if ack.ok else CommandState.FAILED
    else:
        row.state = CommandState.LATE_OK if ack.ok else CommandState.LATE_FAILED
    row.code, row.data, row.acked_at = ack.code.value, dict(ack.data), received_at
    return "on_time" if on_time else "late"


def sweep(engine: Engine, now: datetime) -> int:
    """Mark ``timeout`` the commands still ``sent`` past their deadline; how many were."""
    with Session(engine) as session, session.begin():
        # Read first: on SQLite an UPDATE takes the write lock even when nothing matches.
        expired = session.scalars(select(CommandRow.id).where(
            CommandRow.state == CommandState.SENT.value, CommandRow.deadline < now)
            .limit(SWEEP_BATCH)).all()
        if not expired:
            return 0
        result = session.execute(
            update(CommandRow)
            .where(CommandRow.id.in_(expired), CommandRow.state == CommandState.SENT.value)
            .values(state=CommandState.TIMEOUT.value, code=Code.CMD_TIMEOUT.value))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _known_edge(session: Session, school: str, edge: str) -> None:
    """CommandError 404 unless the registry knows the edge (it has sent a birth)."""
    if session.get(EdgeRow, (school, edge)) is None:
        raise CommandError(404, f"Không tìm thấy hộp {school}/{edge}",
                           f"Unknown edge {school}/{edge}")


class CommandMetrics:
    """Counters of commands and their acks, in the hub's registry."""

    def __init__(self, metrics: HubMetrics) -> None:
        registry = metrics.registry
        self.sent = Counter("hub_commands_sent_total", "Commands published to edges, by name",
                            ["cmd"], registry=registry)
        self.timed_out = Counter("hub_commands_timed_out_total",
                                 "Commands that passed their deadline without an ack",
                                 registry=registry)
        self.acks = Counter(
            "hub_command_acks_total",
            "Command acks received, by outcome (on_time, late, duplicate, unknown, mismatch)",
            ["outcome"], registry=registry)


class CommandAckWriter(BatchWorker[tuple[CommandAck, datetime]]):
    """Commits command acks, then acknowledges their QoS 1 messages."""

    sink_name = "commands"

    def __init__(self, *, engine: Engine, metrics: HubMetrics, counters: CommandMetrics,
                 ack: Callable[[Delivery], None]) -> None:
        super().__init__(metrics=metrics, ack=ack, batch_size=200, batch_wait=0.0)
        self.counters = counters
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._outcomes: list[tuple[Topic, CommandAck, str]] = []
        self._bad_log = RateLimitedLog()

    def put(self, topic: Topic, message: Any, delivery: Delivery) -> None:
        """Queue one ack with the time it arrived (the deadline is judged against it)."""
        super().put(topic, (message, datetime.now(UTC)), delivery)

    def store(self, items: list[tuple[Topic, Any]]) -> None:
        """Apply the batch's acks in one transaction."""
        try:
            with self._sessions.begin() as session:
                self._outcomes = [(topic, ack, apply_ack(session, topic, ack, received))
                                  for topic, (ack, received) in items]
        except (OperationalError, IntegrityError, DBAPIError) as error:
            raise RetryableError(str(error)) from error

    def after_store(self, items: list[tuple[Topic, Any]]) -> None:
        """Count the outcomes; log the acks that matched no command of theirs."""
        for topic, ack, outcome in self._outcomes:
            self.counters.acks.labels(outcome).inc()
            if outcome in ("unknown", "mismatch"):
                self._bad_log.warning(f"cmd-ack:{outcome}", "ack from %s/%s for %s command %s",
                                      topic.school, topic.edge, outcome, ack.re)
        self._outcomes = []


class CommandService:
    """Sends commands, records their acks and times out the silent ones."""

    def __init__(self, *, engine: Engine, metrics: HubMetrics, publish: Publish,
                 ack: Callable[[Delivery], None], link_up: Callable[[], bool],
                 sweep_every_s: float = SWEEP_EVERY_S) -> None:
        self.engine = engine
        self.publish = publish
        self.link_up = link_up
        self.counters = CommandMetrics(metrics)
        self.acks = CommandAckWriter(engine=engine, metrics=metrics, counters=self.counters,
                                     ack=ack)
        self.sweep_every_s = sweep_every_s
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep_loop, name="hub-command-sweeper",
                                         daemon=True)

    def send(self, school: str, edge: str, request: CommandRequest, *, sent_by: str,
             sent_role: str) -> dict[str, Any]:
        """Record the command for a known edge, publish it, return its record."""
        if not self.link_up():
            raise CommandError(503, "Mất kết nối MQTT, không gửi được lệnh",
                               "MQTT link is down: the command cannot be sent")
        now = datetime.now(UTC)
        command = Command(id=uuid.uuid4(), cmd=request.cmd, args=request.args)
        row = CommandRow(
            id=str(command.id), school=school, edge=edge, cmd=request.cmd, args=request.args,
            sent_by=sent_by, sent_role=sent_role, sent_at=now,
            deadline=now + timedelta(seconds=request.timeout_s),
            state=CommandState.SENT.value)
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            _known_edge(session, school, edge)
            session.add(row)
        # After the commit: an ack can never arrive for a command the database does not know.
        self.publish(topics.cmd(school, edge), command.to_json(), 1, None, request.expiry_s)
        self.counters.sent.labels(request.cmd).inc()
        log.info("command %s (%s) sent to %s/%s by %s (%s)", command.id, request.cmd, school,
                 edge, sent_by, sent_role)
        return command_json(row)

    def get(self, command_id: uuid.UUID) -> dict[str, Any] | None:
        """One command's record, or None."""
        with Session(self.engine) as session:
            row = session.get(CommandRow, str(command_id))
            return command_json(row) if row is not None else None

    def history(self, school: str, edge: str, limit: int) -> list[dict[str, Any]]:
        """An edge's commands, newest first (CommandError 404 for an unknown edge)."""
        with Session(self.engine) as session:
            _known_edge(session, school, edge)
            rows = session.scalars(
                select(CommandRow).where(CommandRow.school == school, CommandRow.edge == edge)
                .order_by(CommandRow.sent_at.desc(), CommandRow.id)
                .limit(min(limit, HISTORY_MAX)))
            return [command_json(row) for row in rows]

    def _sweep_loop(self) -> None:
        while not self._stop.wait(self.sweep_every_s):
            try:
                timed_out = sweep(self.engine, datetime.now(UTC))
            except SQLAlchemyError as error:
                log.warning("command sweep failed, retrying: %s", error)
                continue
            if timed_out:
                self.counters.timed_out.inc(timed_out)
                log.info("%d command(s) timed out", timed_out)

    def start(self) -> None:
        """Start the ack writer and the sweeper."""
        self.acks.start()
        self._sweeper.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Store and acknowledge the queued acks, then stop sweeping."""
        self.acks.stop(timeout)
        self._stop.set()
        if self._sweeper.is_alive():
            self._sweeper.join(timeout)
