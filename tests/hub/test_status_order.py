"""Which birth or Last Will decides an edge's state: the rule shared by live state and registry."""

from __future__ import annotations

from datetime import datetime, timedelta

from hub.ingest.devicemap import status_takes_effect
from protocol import EdgeState, Status

T0 = datetime.fromisoformat("2026-11-23T07:00:00+07:00")


def birth(session: str | None, seconds: int) -> Status:
    return Status(ts=T0 + timedelta(seconds=seconds), state=EdgeState.ONLINE, session=session)


def will(session: str | None, seconds: int) -> Status:
    return Status(ts=T0 + timedelta(seconds=seconds), state=EdgeState.OFFLINE, session=session)


def test_the_will_of_the_current_connection_holds_from_when_it_arrives() -> None:
    # The Will is stamped when the connection opens, a moment before its own birth.
    born = status_takes_effect(birth("a", 1), None, None, T0)
    assert born == T0 + timedelta(seconds=1)
    died_at = T0 + timedelta(minutes=10)
    assert status_takes_effect(will("a", 0), born, "a", died_at) == died_at


def test_a_will_of_an_earlier_connection_is_stale() -> None:
    born = status_takes_effect(birth("b", 60), None, None, T0)
    assert status_takes_effect(will("a", 0), born, "b", T0 + timedelta(minutes=1)) is None


def test_without_sessions_the_newest_timestamp_wins() -> None:
    born = status_takes_effect(birth(None, 10), None, None, T0)
    assert status_takes_effect(will(None, 0), born, None, T0) is None
    assert status_takes_effect(will(None, 20), born, None, T0) == T0 + timedelta(seconds=20)
    assert status_takes_effect(birth(None, 5), T0 + timedelta(seconds=20), None, T0) is None


def test_a_death_never_moves_time_backwards() -> None:
    # The hub's clock behind the edge's: the death still holds no earlier than the birth.
    born = status_takes_effect(birth("a", 30), None, None, T0)
    assert status_takes_effect(will("a", 0), born, "a", T0) == born
