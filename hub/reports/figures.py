"""What a report holds: figures per edge, room, school and district (plain dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from hub.reports.period import ReportPeriod


def ratio(part: float, whole: float) -> float | None:
    """``part / whole``, or None when there is nothing to divide by."""
    return part / whole if whole else None


@dataclass(slots=True)
class EdgeFigures:
    """One edge box over the period: seconds observed and seconds online."""

    school: str
    edge: str
    devices: int
    state: str
    observed_s: float = 0.0
    online_s: float = 0.0

    @property
    def availability(self) -> float | None:
        """Share of the observed time the edge was online."""
        return ratio(self.online_s, self.observed_s)


@dataclass(slots=True)
class RoomFigures:
    """One room's CO2 over the period, from 10-minute means."""

    school: str
    room: str
    intervals: int = 0
    intervals_over: int = 0
    peak_ppm: float | None = None

    @property
    def hours_measured(self) -> float:
        """Hours with at least one reading."""
        return self.intervals / 6

    @property
    def hours_over(self) -> float:
        """Hours whose 10-minute mean was above the limit."""
        return self.intervals_over / 6


@dataclass(slots=True)
class Totals:
    """Figures that add up across schools (a school's, or a district's sum of them)."""

    schools: int = 0
    students: int = 0
    present: int = 0
    late: int = 0
    absent: int = 0
    purchases: int = 0
    purchases_vnd: int = 0
    refunds: int = 0
    refunds_vnd: int = 0
    offline: int = 0
    offline_vnd: int = 0
    flagged: int = 0
    loans: int = 0
    edges: int = 0
    observed_s: float = 0.0
    online_s: float = 0.0
    rooms_measured: int = 0
    rooms_over: int = 0
    intervals_over: int = 0

    def add(self, other: Totals) -> None:
        """Add ``other``'s figures to these."""
        for name in Totals.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def expected(self) -> int:
        """Student-periods with a record: attended, late or marked absent."""
        return self.present + self.late + self.absent

    @property
    def attendance_rate(self) -> float | None:
        """(present + late) / expected student-periods."""
        return ratio(self.present + self.late, self.expected)

    @property
    def net_purchases(self) -> int:
        """Purchases less refunds, by count."""
        return self.purchases - self.refunds

    @property
    def net_vnd(self) -> int:
        """Purchases less refunds, in đồng."""
        return self.purchases_vnd - self.refunds_vnd

    @property
    def offline_share(self) -> float | None:
        """Share of the purchases' đồng approved offline by the tills."""
        return ratio(self.offline_vnd, self.purchases_vnd)

    @property
    def availability(self) -> float | None:
        """Time-weighted share of the edges' observed time spent online."""
        return ratio(self.online_s, self.observed_s)

    @property
    def hours_over(self) -> float:
        """Room-hours above the CO2 limit."""
        return self.intervals_over / 6


@dataclass(slots=True)
class SchoolFigures:
    """One school's line of the report."""

    school: str
    name: str
    area: str
    totals: Totals = field(default_factory=Totals)


@dataclass(slots=True)
class Report:
    """A whole report: its period, its lines, and notes on how figures were obtained."""

    period: ReportPeriod
    generated_at: datetime
    co2_limit: float
    schools: list[SchoolFigures]
    edges: list[EdgeFigures]
    rooms: list[RoomFigures] | None  # None: no telemetry store to ask
    notes: list[tuple[str, str]] = field(default_factory=list)

    def districts(self) -> list[tuple[str, Totals]]:
        """The schools' totals summed per district (area), sorted by name."""
        sums: dict[str, Totals] = {}
        for line in self.schools:
            sums.setdefault(line.area, Totals()).add(line.totals)
        return sorted(sums.items())
