"""The alert lifecycle on SQLite and PostgreSQL: open after the delay, acknowledge, resolve
after the clear delay, survive a restart, and reach the school's webhook even when it is down."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.db.alerts import ACKED, OPEN, RESOLVED, AlertNotificationRow, AlertRow, AlertRulesRow
from hub.db.registry import as_utc
from hub.health.alerts import AlertError, AlertTracker, acknowledge
from hub.health.notify import AlertWebhookSender
from hub.health.rules import AlertRules, Condition, RuleName, Severity, condition_key
from smartschool_cli.localservers.base import free_port
from tests.hub.conftest import wait_until
from tests.hub.health.conftest import (
    EDGE,
    SCHOOL,
    Receiver,
    at,
    start_receiver,
    stop_receiver,
)

T0 = at("09:00")
RULES = AlertRules(open_after_s=60, clear_after_s=120)


def rules_for(school: str) -> AlertRules:
    return RULES


def disk(value: float = 95.0, edge: str = EDGE) -> Condition:
    return Condition(condition_key(RuleName.DISK_FULL, SCHOOL, edge), RuleName.DISK_FULL,
                     Severity.CRITICAL, SCHOOL, edge, "", "", value, 90.0,
                     f"Ổ đĩa hộp {edge} đầy {value:.0f} %", f"Disk of edge {edge} {value:.0f} % full")


def on(*conditions: Condition) -> dict[str, Condition]:
    return {c.key: c for c in conditions}


def alerts(engine: Engine) -> list[AlertRow]:
    with Session(engine) as session:
        return list(session.scalars(select(AlertRow).order_by(AlertRow.id)))


def test_an_alert_opens_after_its_delay_is_acked_and_resolves_itself(engine: Engine) -> None:
    tracker = AlertTracker(engine)
    assert tracker.step(on(disk()), T0, rules_for).opened == ()
    assert tracker.step(on(disk()), T0 + timedelta(seconds=59), rules_for).opened == ()
    assert alerts(engine) == []
    assert tracker.step(on(disk()), T0 + timedelta(seconds=60), rules_for).opened == (
        disk().key,)
    [row] = alerts(engine)
    assert (row.state, row.rule, row.severity, row.value, row.threshold) == (
        OPEN, "disk_full", "critical", 95.0, 90.0)
    assert as_utc(row.opened_at) == T0 + timedelta(seconds=60)
    assert tracker.counts_by_school() == {SCHOOL: 1}
    assert tracker.counts_by_edge() == {(SCHOOL, EDGE): 1}

    with Session(engine) as session, session.begin():
        acknowledge(session, row.id, "kt-vien-an", T0 + timedelta(seconds=90))
    with Session(engine) as session, session.begin():  # a second ack keeps the first
        acknowledge(session, row.id, "kt-vien-binh", T0 + timedelta(seconds=95))

    # Gone for less than the clear delay, then back: the same alert, never resolved.
    tracker.step({}, T0 + timedelta(seconds=100), rules_for)
    assert tracker.step(on(disk()), T0 + timedelta(seconds=219), rules_for) == tracker.step(
        on(disk()), T0 + timedelta(seconds=220), rules_for)
    tracker.step({}, T0 + timedelta(seconds=300), rules_for)
    assert tracker.step({}, T0 + timedelta(seconds=419), rules_for).resolved == ()
    assert tracker.step({}, T0 + timedelta(seconds=420), rules_for).resolved == (disk().key,)
    [row] = alerts(engine)
    assert (row.state, row.acked_by) == (RESOLVED, "kt-vien-an")
    assert as_utc(row.acked_at) == T0 + timedelta(seconds=90)
    assert as_utc(row.resolved_at) == T0 + timedelta(seconds=420)
    assert tracker.counts_by_school() == {}

    with Session(engine) as session, pytest.raises(AlertError) as resolved:
        acknowledge(session, row.id, "kt-vien-an", T0 + timedelta(seconds=500))
    assert resolved.value.status == 409 and resolved.value.vi
    with Session(engine) as session, pytest.raises(AlertError) as missing:
        acknowledge(session, 9999, "kt-vien-an", T0)
    assert missing.value.status == 404


def test_a_condition_that_breaks_before_its_delay_never_opens(engine: Engine) -> None:
    tracker = AlertTracker(engine)
    for second in range(0, 600, 40):  # holds 40 s, breaks for a tick, holds again ...
        tracker.step(on(disk()), T0 + timedelta(seconds=second), rules_for)
        tracker.step({}, T0 + timedelta(seconds=second + 20), rules_for)
    assert alerts(engine) == []
    # Once resolved, the same cause needs the full delay again to open a new alert.
    tracker.step(on(disk()), T0 + timedelta(seconds=600), rules_for)
    tracker.step(on(disk()), T0 + timedelta(seconds=660), rules_for)
    tracker.step({}, T0 + timedelta(seconds=700), rules_for)
    tracker.step({}, T0 + timedelta(seconds=820), rules_for)
    tracker.step(on(disk()), T0 + timedelta(seconds=830), rules_for)
    assert [a.state for a in alerts(engine)] == [RESOLVED]
    tracker.step(on(disk()), T0 + timedelta(seconds=890), rules_for)
    assert [a.state for a in alerts(engine)] == [RESOLVED, OPEN]


def test_a_restarted_hub_takes_over_the_unresolved_alerts(engine: Engine) -> None:
    first = AlertTracker(engine)
    first.step(on(disk(), disk(edge="lab-hoa")), T0, rules_for)
    first.step(on(disk(), disk(edge="lab-hoa")), T0 + timedelta(seconds=60), rules_for)
    with Session(engine) as session, session.begin():
        acknowledge(session, alerts(engine)[0].id, "kt-vien-an", T0 + timedelta(seconds=61))
    second = AlertTracker(engine)
    assert second.load() == 2
    assert second.active() == {disk().key, disk(edge="lab-hoa").key}
    # Still holding: no second alert. The other one clears and resolves.
    second.step(on(disk()), T0 + timedelta(seconds=120), rules_for)
    second.step(on(disk()), T0 + timedelta(seconds=240), rules_for)
    assert [(a.edge, a.state) for a in alerts(engine)] == [(EDGE, ACKED), ("lab-hoa", RESOLVED)]


def test_two_workers_seeing_the_same_cause_open_one_alert(engine: Engine) -> None:
    one, two = AlertTracker(engine), AlertTracker(engine)
    for tracker in (one, two):
        tracker.step(on(disk()), T0, rules_for)
    one.step(on(disk()), T0 + timedelta(seconds=60), rules_for)
    two.step(on(disk()), T0 + timedelta(seconds=61), rules_for)
    [row] = alerts(engine)
    assert one.active() == two.active() == {disk().key}
    two.step({}, T0 + timedelta(seconds=100), rules_for)
    two.step({}, T0 + timedelta(seconds=220), rules_for)
    one.step({}, T0 + timedelta(seconds=100), rules_for)
    one.step({}, T0 + timedelta(seconds=220), rules_for)  # already resolved by the other
    assert [a.state for a in alerts(engine)] == [RESOLVED] and one.active() == frozenset()


def _set_webhook(engine: Engine, url: str) -> None:
    with Session(engine) as session, session.begin():
        session.add(AlertRulesRow(school=SCHOOL, overrides="{}", webhook_url=url))


def _life(engine: Engine, tracker: AlertTracker, condition: Condition, start_s: int) -> None:
    """Open, acknowledge and resolve one alert."""
    start = T0 + timedelta(seconds=start_s)
    tracker.step(on(condition), start, rules_for)
    tracker.step(on(condition), start + timedelta(seconds=60), rules_for)
    with Session(engine) as session, session.begin():
        alert_id = session.scalar(select(AlertRow.id).where(AlertRow.key == condition.key,
                                                            AlertRow.state == OPEN))
        assert alert_id is not None
        acknowledge(session, alert_id, "kt-vien-an", start + timedelta(seconds=70))
    tracker.step({}, start + timedelta(seconds=80), rules_for)
    tracker.step({}, start + timedelta(seconds=200), rules_for)


def test_every_event_reaches_the_webhook_in_order(engine: Engine, receiver: Receiver) -> None:
    url = f"http://127.0.0.1:{receiver.server_port}/hooks/thiet-bi"
    _set_webhook(engine, url)
    woken: list[bool] = []
    tracker = AlertTracker(engine, webhook_for=lambda school: url,
                           on_queued=lambda: woken.append(True))
    _life(engine, tracker, disk(), 0)
    assert woken, "the sender is woken when the tracker queues an event"
    sender = AlertWebhookSender(engine, retry_wait=0.01)
    try:
        assert sender.deliver_pending() == 3
    finally:
        sender.stop()
    bodies = receiver.bodies()
    assert [b["event"] for b in bodies] == ["opened", "acked", "resolved"]
    assert {b["alert"]["id"] for b in bodies} == {alerts(engine)[0].id}
    opened = bodies[0]["alert"]
    assert (opened["rule"], opened["school"], opened["edge"], opened["state"]) == (
        "disk_full", SCHOOL, EDGE, "open")
    assert opened["message"] == {"vi": "Ổ đĩa hộp p-10a1 đầy 95 %",
                                 "en": "Disk of edge p-10a1 95 % full"}
    assert bodies[1]["alert"]["acked_by"] == "kt-vien-an"
    path, headers, _ = receiver.posts[0]
    assert path == "/hooks/thiet-bi" and headers["Idempotency-Key"] == bodies[0]["key"]


def test_a_webhook_that_is_down_is_retried_and_nothing_is_lost(engine: Engine) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hooks"
    _set_webhook(engine, url)
    tracker = AlertTracker(engine, webhook_for=lambda school: url)
    for number, edge in enumerate(["p-10a1", "p-10a2", "lab-hoa"]):
        _life(engine, tracker, disk(edge=edge), number * 1000)
    sender = AlertWebhookSender(engine, interval=0.05, retry_wait=0.01, attempts=2,
                                backoff=timedelta(milliseconds=20),
                                max_backoff=timedelta(milliseconds=200))

    def attempts() -> list[int]:
        with Session(engine) as session:
            return list(session.scalars(select(AlertNotificationRow.attempts)
                                        .order_by(AlertNotificationRow.id)))

    def unsent() -> int:
        with Session(engine) as session:
            return session.scalar(select(func.count()).where(
                AlertNotificationRow.sent_at.is_(None))) or 0

    sender.start()
    receiver: Receiver | None = None
    try:
        # Nobody listens: each alert's first event is tried round after round; the later
        # events of the same alert wait behind it (never "resolved" before "opened").
        wait_until(lambda: min(attempts()[0::3]) >= 4, 15, "retries while the webhook is down")
        assert attempts()[1::3] == [0, 0, 0] and attempts()[2::3] == [0, 0, 0]
        assert unsent() == 9
        receiver, _ = start_receiver(port, fail=1)  # back, with one more hiccup (HTTP 500)
        wait_until(lambda: unsent() == 0, 15, "every event delivered")
    finally:
        sender.stop()
        if receiver is not None:
            stop_receiver(receiver)
    assert receiver is not None
    bodies = receiver.bodies()
    keys = [b["key"] for b in bodies]
    assert len(set(keys)) == 9, "nothing lost"
    assert len(keys) == 10, "the one answered 500 came again"
    for alert_id in {b["alert"]["id"] for b in bodies}:
        events = [b["event"] for b in bodies if b["alert"]["id"] == alert_id]
        assert [e for i, e in enumerate(events) if e not in events[:i]] == [
            "opened", "acked", "resolved"]
