"""The command rules (pure), and how an ack is judged against the deadline, on SQLite and
PostgreSQL: by when it arrived, whichever of the ack writer and the sweeper gets there first."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from hub.db.commands import CommandRow
from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.db.models import EdgeRow
from hub.services.command_rules import CommandError, parse_request
from hub.services.commands import apply_ack, command_json, sweep
from protocol import Code, CommandAck
from protocol.topics import Topic, TopicKind
from tests.hub.commands.conftest import EDGE, SCHOOL

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
TOPIC = Topic(SCHOOL, EDGE, TopicKind.CMD_ACK)


@pytest.mark.parametrize(("body", "field"), [
    ({"cmd": "reboot", "args": {"now": True}}, "args.now"),
    ({"cmd": "board.power", "args": {"on": 1}}, "args.on"),
    ({"cmd": "board.power", "args": []}, "args"),
    ({"cmd": "identify", "timeout_s": True}, "timeout_s"),
    ({"cmd": "identify", "timeout_s": float("nan")}, "timeout_s"),
    ({"cmd": "identify", "wait": 3}, "wait"),
    ({"cmd": None}, "cmd"),
    ({"args": {}}, "cmd"),
    (["identify"], "body"),
])
def test_bad_requests_name_their_field(body: Any, field: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_request(body)
    error = caught.value
    assert (error.status, error.field) == (422, field)
    assert error.vi and error.en and error.vi != error.en


def test_good_requests_are_normalised() -> None:
    request = parse_request({"cmd": "board.power", "args": {"on": False}, "timeout_s": 5})
    assert (request.cmd, request.args, request.timeout_s) == ("board.power", {"on": False}, 5.0)
    assert parse_request({"cmd": "sync"}).timeout_s == 10.0


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    with Session(engine) as session, session.begin():
        session.add(EdgeRow(school=SCHOOL, edge=EDGE, state="online", fw="", outbox=0))
    yield engine
    engine.dispose()


def _command(engine: Engine, deadline: datetime) -> str:
    command_id = str(uuid.uuid4())
    with Session(engine) as session, session.begin():
        session.add(CommandRow(id=command_id, school=SCHOOL, edge=EDGE, cmd="identify", args={},
                               sent_by="kt-1", sent_role="technician", sent_at=T0,
                               deadline=deadline, state="sent"))
    return command_id


def _ack(engine: Engine, command_id: str, received: datetime, ok: bool = True) -> str:
    ack = CommandAck(re=uuid.UUID(command_id), ok=ok,
                     code=Code.CMD_OK if ok else Code.CMD_UNSUPPORTED)
    with Session(engine) as session, session.begin():
        return apply_ack(session, TOPIC, ack, received)


def _record(engine: Engine, command_id: str) -> dict[str, Any]:
    with Session(engine) as session:
        row = session.get(CommandRow, command_id)
        assert row is not None
        return command_json(row)


def test_the_deadline_is_judged_by_arrival_not_by_the_sweeper(engine: Engine) -> None:
    deadline = T0 + timedelta(seconds=10)
    swept_first, late, refused_late = (_command(engine, deadline) for _ in range(3))
    unanswered = _command(engine, T0 + timedelta(days=1))

    assert sweep(engine, deadline + timedelta(seconds=1)) == 3  # not the one due tomorrow
    assert _record(engine, swept_first)["state"] == "timeout"
    # This ack arrived in time but was stored after the sweep: it counts as on time.
    assert _ack(engine, swept_first, deadline - timedelta(seconds=1)) == "on_time"
    assert _ack(engine, late, deadline + timedelta(seconds=30)) == "late"
    assert _ack(engine, refused_late, deadline + timedelta(seconds=30), ok=False) == "late"
    assert _ack(engine, late, deadline + timedelta(seconds=31), ok=False) == "duplicate"

    on_time = _record(engine, swept_first)
    assert (on_time["state"], on_time["ok"], on_time["code"]) == ("ok", True, "cmd.ok")
    kept = _record(engine, late)
    assert (kept["state"], kept["ok"], kept["code"]) == ("late_ok", True, "cmd.ok")
    assert kept["acked_at"] == (deadline + timedelta(seconds=30)).isoformat()
    refused = _record(engine, refused_late)
    assert (refused["state"], refused["ok"], refused["code"]) == (
        "late_failed", False, "cmd.unsupported")
    assert refused["msg"]["en"] == "Not supported by this edge"
    assert _record(engine, unanswered)["state"] == "sent"
    assert sweep(engine, deadline + timedelta(seconds=2)) == 0
