"""Taps decided as one batch by the request sink (reads for the whole batch, inserts at the end,
one commit) on SQLite and PostgreSQL: a batch decides what its taps decide one by one, and a
failing neighbour does not undo its taps."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime, time

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.db.attendance import AttendanceRow, TapRow
from hub.db.people import ProcessedRequestRow, StudentRow
from hub.ingest.router import Incoming
from hub.metrics import HubMetrics
from hub.services.attendance import handle_tap, mark_absences
from hub.services.requests import Outcome, RequestContext, RequestSink
from protocol import Pay, Tap, topics
from protocol.topics import parse
from tests.hub.attendance.conftest import BAO, EDGE, LOST, MAI_ANH, PHUC, at
from tests.hub.attendance.test_tap import _records
from tests.hub.people.samples import SCHOOL

MONDAY = date(2026, 11, 23)


def broken_pay(session: Session, context: RequestContext) -> Outcome:
    """A handler with a bug, batched with taps."""
    raise RuntimeError("bug")


class Sink:
    """The request sink on the test's database, its answers kept by request id."""

    def __init__(self, engine: Engine) -> None:
        self.sent: list[tuple[str, bytes, int, bytes | None]] = []
        self.sink = RequestSink(engine=engine, handlers={"tap": handle_tap, "pay": broken_pay},
                                metrics=HubMetrics(), ack=lambda delivery: None,
                                publish=lambda *message: self.sent.append(message))

    def decide(self, *requests: Tap | Pay) -> list[dict[str, object]]:
        """Decide ``requests`` as one batch; their answers, in order."""
        items = [(parse(topics.req(SCHOOL, EDGE)), Incoming(r, str(r.id).encode()))
                 for r in requests]
        self.sent.clear()
        self.sink.store(items)
        self.sink.after_store(items)
        answers = [json.loads(payload) for _, payload, _, _ in self.sent]
        assert [a["re"] for a in answers] == [str(r.id) for r in requests]
        return answers

    def close(self) -> None:
        self.sink._drop_connection()


@pytest.fixture
def sink(engine: Engine) -> Iterator[Sink]:
    decider = Sink(engine)
    yield decider
    decider.close()


def tap(card: str, clock: str, device: str = "door-1") -> Tap:
    return Tap(id=uuid.uuid4(), ts=at(clock), device=device, card=card)


def test_a_batch_decides_its_taps_in_order_as_one_by_one(sink: Sink, engine: Engine) -> None:
    # The same rules as test_tap's one-by-one taps; later taps see earlier ones of the batch.
    taps = [tap(MAI_ANH, "06:52:10"), tap(MAI_ANH, "06:55"),  # the second: within the window
            tap(BAO, "07:09:59"), tap(BAO, "07:52"),  # his second: period 2, window passed
            tap("em:00000000AA", "07:00"), tap(LOST, "07:00"), tap(PHUC, "06:15"),
            tap(BAO, "06:40", device="gate-1"), tap(BAO, "11:30", device="gate-1")]
    answers = sink.decide(*taps)
    assert [a["code"] for a in answers] == [
        "attendance.present", "attendance.duplicate", "attendance.present",
        "attendance.present", "declined.unknown_card", "declined.card_blocked",
        "attendance.present", "attendance.present", "attendance.late"]
    assert [a["data"].get("period") for a in answers[:4]] == [1, 1, 1, 2]
    assert answers[6]["data"]["period"] is None
    # Bảo's plain gate alternates within the batch; leaving after 07:10 answers "late".
    assert [a["data"]["direction"] for a in answers[7:]] == ["in", "out"]
    assert _records(engine, "HS0001") == {0: ("present", "06:52"), 1: ("present", "06:52")}
    assert _records(engine, "HS0002") == {0: ("present", "07:09"), 1: ("present", "07:09"),
                                          2: ("present", "07:52")}
    assert _records(engine, "HS0003") == {0: ("present", "06:15")}
    with Session(engine) as session:
        left = session.scalar(select(AttendanceRow.left_ts).join(
            StudentRow, StudentRow.id == AttendanceRow.student_id).where(
            StudentRow.code == "HS0002", AttendanceRow.period == 0))
        assert left is not None, "the gate's out tap set the arrival record's leaving time"
        assert session.scalar(select(func.count()).select_from(TapRow)) == len(taps)
        assert session.scalar(select(func.count()).select_from(ProcessedRequestRow)) == len(taps)

    # A retry of the whole batch is answered from the record, byte for byte, and adds nothing.
    again = sink.decide(*taps)
    assert again == answers
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(TapRow)) == len(taps)


def test_a_late_tap_after_closing_and_a_failing_neighbour_in_one_batch(
        sink: Sink, engine: Engine) -> None:
    assert mark_absences(engine, SCHOOL, MONDAY, time(7, 45)) == 4
    assert _records(engine, "HS0002") == {1: ("absent", None)}
    pay = Pay(id=uuid.uuid4(), ts=datetime.now().astimezone(), device="till-1", card=BAO,
              amount=15_000)
    late, failing, mai_anh = sink.decide(tap(BAO, "07:20"), pay, tap(MAI_ANH, "07:50"))
    # Bảo's door was offline: absent becomes late, and the day's arrival is recorded.
    assert late["code"] == "attendance.late" and late["data"]["period"] == 1
    assert failing["code"] == "error.internal"
    assert mai_anh["code"] == "attendance.present" and mai_anh["data"]["period"] == 2
    assert _records(engine, "HS0002") == {0: ("late", "07:20"), 1: ("late", "07:20")}
    assert _records(engine, "HS0001") == {0: ("present", "07:50"), 1: ("absent", None),
                                          2: ("present", "07:50")}
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(TapRow)) == 2
        assert session.get(ProcessedRequestRow, str(pay.id)) is None
