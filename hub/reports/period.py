"""Report periods: a quarter (``2026-Q4``) or explicit dates, in the schools' local time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.reports.errors import ReportError

DEFAULT_ZONE = "Asia/Ho_Chi_Minh"
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
#: Units hand in a quarter's report by the 25th of its last month (25/3, 25/6, 25/9, 25/12).
DEADLINE_DAY = 25
MAX_DAYS = 400


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    """Local days ``first`` to ``last`` inclusive, and their UTC bounds ``[start, end)``."""

    label: str
    first: date
    last: date
    zone: str = DEFAULT_ZONE

    @property
    def start(self) -> datetime:
        """The first day's local midnight, in UTC."""
        return _midnight(self.first, self.zone)

    @property
    def end(self) -> datetime:
        """The local midnight after the last day, in UTC (exclusive)."""
        return _midnight(self.last + timedelta(days=1), self.zone)

    @property
    def deadline(self) -> date | None:
        """When the unit must report, for a calendar quarter (25th of its last month)."""
        match = _QUARTER.match(self.label)
        return date(self.last.year, self.last.month, DEADLINE_DAY) if match else None


def utc(ts: datetime) -> datetime:
    """``ts`` in UTC; SQLite hands back naive datetimes that were stored as UTC."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def parse_quarter(text: str, zone: str = DEFAULT_ZONE) -> ReportPeriod:
    """``2026-Q4`` -> 1/10/2026 to 31/12/2026; ReportError for anything else."""
    match = _QUARTER.match(text.strip())
    if match is None:
        raise ReportError(f"Quý không hợp lệ: {text!r} (dạng 2026-Q4)",
                          f"Bad quarter {text!r} (expected like 2026-Q4)")
    year, quarter = int(match[1]), int(match[2])
    first = date(year, 3 * quarter - 2, 1)
    after = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return ReportPeriod(f"{year}-Q{quarter}", first, after - timedelta(days=1), zone)


def period_between(first: date, last: date, zone: str = DEFAULT_ZONE) -> ReportPeriod:
    """Local days ``first`` to ``last`` inclusive; ReportError when reversed or too long."""
    if last < first or (last - first).days >= MAX_DAYS:
        raise ReportError(f"Khoảng ngày không hợp lệ (tối đa {MAX_DAYS} ngày)",
                          f"Bad date range (at most {MAX_DAYS} days)")
    return ReportPeriod(f"{first.isoformat()}_{last.isoformat()}", first, last, zone)
