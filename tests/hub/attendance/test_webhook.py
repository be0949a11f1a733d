"""Parents' notifications: written with the record, POSTed to a real HTTP server, retried."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, time

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.db.attendance import NotificationRow
from hub.services.attendance import mark_absences
from hub.services.attendance_notify import WebhookSender
from hub.services.people.manage import put_school
from tests.hub.attendance.conftest import MAI_ANH, at, tap
from tests.hub.conftest import wait_until
from tests.hub.people.samples import SCHOOL, SCHOOL_NAME
from tests.hub.webhooks import Receiver, start_receiver, stop_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server, _ = start_receiver(fail=1)
    yield server
    stop_receiver(server)


def test_arrival_and_absence_reach_the_webhook_after_a_500(engine: Engine,
                                                            receiver: Receiver) -> None:
    url = f"http://127.0.0.1:{receiver.server_port}/hooks/diem-danh"
    with Session(engine) as session, session.begin():
        put_school(session, SCHOOL, name=SCHOOL_NAME, webhook_url=url)
    tap(engine, MAI_ANH, at("06:58"))
    assert mark_absences(engine, SCHOOL, date(2026, 11, 23), time(7, 45)) == 3
    with Session(engine) as session:  # the outbox holds them before any sending
        kinds = sorted(session.scalars(select(NotificationRow.kind)))
    assert kinds == ["absence", "absence", "absence", "arrival"]

    sender = WebhookSender(engine, interval=0.05, retry_wait=0.01)
    sender.start()
    try:
        def all_sent() -> bool:
            with Session(engine) as session:
                return all(session.scalars(select(NotificationRow.sent_at)))
        wait_until(all_sent, 15, "notifications sent")
    finally:
        sender.stop()
    bodies = [body for _, _, body in receiver.posts]
    assert len(bodies) == 5, "four notifications, the first of them twice (500, then 204)"
    assert bodies[0] == bodies[1]
    arrival = next(b for b in bodies if b["kind"] == "arrival")
    assert arrival | {"ts": None} == {
        "key": arrival["key"], "kind": "arrival", "school": SCHOOL, "student": "HS0001",
        "name": "Nguyễn Thị Mai Anh", "class": "10A1", "date": "2026-11-23", "period": 1,
        "status": "present", "ts": None}
    assert arrival["ts"].startswith("2026-11-22T23:58:00")
    assert {b["student"] for b in bodies if b["kind"] == "absence"} == {"HS0002", "HS0003",
                                                                          "HS0004"}
    path, headers, _ = receiver.posts[0]
    assert path == "/hooks/diem-danh" and headers["Idempotency-Key"] == bodies[0]["key"]
    with Session(engine) as session:
        attempts = sorted(session.scalars(select(NotificationRow.attempts)))
    assert attempts == [1, 1, 1, 2]
