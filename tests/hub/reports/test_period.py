"""Quarters, date ranges and the folding of an edge's state timeline (pure parts)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from hub.reports import ReportError, parse_quarter, period_between
from hub.reports.availability import fold


def test_quarters_are_local_days_with_their_deadline() -> None:
    q4 = parse_quarter("2026-Q4")
    assert (q4.first, q4.last, q4.deadline) == (date(2026, 10, 1), date(2026, 12, 31),
                                                date(2026, 12, 25))
    # Local midnight in Ho Chi Minh City is 17:00 UTC the day before.
    assert q4.start == datetime(2026, 9, 30, 17, tzinfo=UTC)
    assert q4.end == datetime(2026, 12, 31, 17, tzinfo=UTC)
    assert parse_quarter("2027-Q1").last == date(2027, 3, 31)
    for bad in ("2026-Q0", "2026-Q5", "Q4-2026", "2026Q4"):
        with pytest.raises(ReportError):
            parse_quarter(bad)
    weeks = period_between(date(2026, 11, 2), date(2026, 11, 15))
    assert weeks.deadline is None and weeks.end - weeks.start == timedelta(days=14)
    with pytest.raises(ReportError):
        period_between(date(2026, 11, 15), date(2026, 11, 2))


def test_fold_counts_known_time_and_clips_to_the_period() -> None:
    start = datetime(2026, 7, 1, tzinfo=UTC)
    hour = timedelta(hours=1)
    stop = start + 10 * hour
    # Known before the period (online), offline 2 h, back online: 10 h seen, 8 h online.
    timeline = [(start - 5 * hour, "online"), (start + 3 * hour, "offline"),
                (start + 5 * hour, "online")]
    assert fold(timeline, start, stop) == (10 * 3600, 8 * 3600)
    # First heard of mid-period: only the time since counts.
    assert fold([(start + 6 * hour, "online")], start, stop) == (4 * 3600, 4 * 3600)
    assert fold([], start, stop) == (0, 0)
    # A change after the period's end does not reach into it.
    assert fold([(start, "offline"), (stop + hour, "online")], start, stop) == (10 * 3600, 0)
