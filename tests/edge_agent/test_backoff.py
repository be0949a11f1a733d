"""Reconnect and retry delays: doubling, capped, jittered, reset by success."""

from __future__ import annotations

import pytest

from edge_agent.backoff import Backoff


def test_delays_double_up_to_the_cap_with_jitter() -> None:
    backoff = Backoff(1.0, 8.0)
    ceilings = [1, 2, 4, 8, 8, 8]
    for ceiling in ceilings:
        delay = backoff.next_delay()
        assert ceiling / 2 <= delay <= ceiling
    for _ in range(5000):  # days offline: the exponent must not overflow
        assert 4.0 <= backoff.next_delay() <= 8.0
    assert len({round(backoff.next_delay(), 6) for _ in range(20)}) > 1  # jittered, not lockstep


def test_reset_starts_again_from_the_first_delay() -> None:
    backoff = Backoff(0.5, 30.0)
    for _ in range(6):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        Backoff(2.0, 1.0)
