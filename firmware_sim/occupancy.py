"""Realistic classroom air for the simulators: a school day, a room, CO2 and PM2.5.

CO2 follows a single-zone mass balance (ASHRAE 62.1 style): ``dC/dt = G·N/V - λ(C - C_out)``,
solved exactly over each step with constant occupancy. PM2.5 follows Ho Chi Minh City's
traffic rhythm (morning and evening rush hours) with noise.
"""

from __future__ import annotations

import math
import random
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time

OUTDOOR_CO2_PPM = 420.0
# CO2 breathed out by a seated teenager, m³/s (about 0.27 L/min).
CO2_PER_PERSON_M3_S = 4.5e-6
DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class Period:
    """One lesson (tiết học): its number in the session and its start and end, seconds of day."""

    session: str
    number: int
    start_s: int
    end_s: int


def _hm(h: int, m: int) -> int:
    return h * 3600 + m * 60


def session_periods(
    session: str,
    start_s: int,
    periods: int,
    gaps_min: tuple[int, ...],
    period_min: int = 45,
) -> list[Period]:
    """Periods of one session: ``period_min`` lessons separated by the given breaks."""
    out: list[Period] = []
    t = start_s
    for i in range(periods):
        out.append(Period(session, i + 1, t, t + period_min * 60))
        t += period_min * 60
        if i < len(gaps_min):
            t += gaps_min[i] * 60
    return out


def school_day() -> list[Period]:
    """A day: morning 07:00-11:15 (5 periods), afternoon 13:00-16:30 (4), lunch between.

    Breaks are 5 minutes, with one longer recess per session (15 min in the morning after
    period 2, 20 min in the afternoon after period 2).
    """
    return session_periods("morning", _hm(7, 0), 5, (5, 15, 5, 5)) + session_periods(
        "afternoon", _hm(13, 0), 4, (5, 20, 5)
    )


@dataclass(frozen=True, slots=True)
class RoomProfile:
    """A room's size, how many sit in it, and how well it is aired."""

    name: str = "10A1"
    volume_m3: float = 200.0  # 8 m x 8 m x 3.2 m
    capacity: int = 40
    ach: float = 2.0  # air changes per hour: open windows and ceiling fans
    attendance: float = 0.95

    @property
    def ventilation_per_s(self) -> float:
        """Air change rate λ in 1/s."""
        return self.ach / 3600.0


def occupancy(seconds_of_day: float, room: RoomProfile, day: list[Period] | None = None) -> int:
    """People in the room at a time of day: full in lessons, fewer in breaks, empty after school."""
    day = school_day() if day is None else day
    t = seconds_of_day % DAY_S
    present = round(room.capacity * room.attendance)
    for p in day:
        if p.start_s <= t < p.end_s:
            return present
    first, last = day[0].start_s, day[-1].end_s
    if not first <= t < last:
        return 0
    morning_end = max(p.end_s for p in day if p.session == "morning")
    afternoon_start = min(p.start_s for p in day if p.session == "afternoon")
    if morning_end <= t < afternoon_start:
        return round(present * 0.3)  # boarders (bán trú) eat and rest in the room
    return round(present * 0.5)  # a break: half go out


def co2_steady_state(people: int, room: RoomProfile, outdoor_ppm: float = OUTDOOR_CO2_PPM) -> float:
    """The CO2 level the room tends to with ``people`` inside."""
    rise = people * CO2_PER_PERSON_M3_S / (room.volume_m3 * room.ventilation_per_s)
    return outdoor_ppm + rise * 1e6


def co2_step(
    c_ppm: float, people: int, room: RoomProfile, dt_s: float, outdoor_ppm: float = OUTDOOR_CO2_PPM
) -> float:
    """CO2 after ``dt_s`` seconds with constant occupancy (exact solution of the balance)."""
    target = co2_steady_state(people, room, outdoor_ppm)
    return target + (c_ppm - target) * math.exp(-room.ventilation_per_s * dt_s)


def outdoor_pm25(seconds_of_day: float) -> float:
    """Outdoor PM2.5 without noise, µg/m³: a city baseline plus rush-hour humps."""
    h = (seconds_of_day % DAY_S) / 3600.0
    morning = 18.0 * math.exp(-(((h - 7.5) / 1.3) ** 2))
    evening = 22.0 * math.exp(-(((h - 18.0) / 1.6) ** 2))
    return 22.0 + morning + evening


def pm_values(
    seconds_of_day: float, people: int, room: RoomProfile, rng: random.Random
) -> tuple[float, float, float]:
    """Indoor PM1.0, PM2.5, PM10, µg/m³: filtered outdoor air, dust stirred by people, noise."""
    pm25 = 0.7 * outdoor_pm25(seconds_of_day) + 0.12 * people
    pm25 = max(1.0, pm25 * rng.lognormvariate(0.0, 0.08))
    pm1 = pm25 * 0.68
    pm10 = pm25 * 1.35 + 0.15 * people  # coarse dust rises with movement
    return pm1, pm25, pm10


def temperature(seconds_of_day: float, people: int) -> float:
    """Room temperature, °C: Saigon's daily swing plus body heat."""
    h = (seconds_of_day % DAY_S) / 3600.0
    return 28.0 + 3.0 * math.sin((h - 9.0) / 24.0 * 2 * math.pi) + 0.03 * people


@dataclass(slots=True)
class SimClock:
    """Maps wall time to school-day time: starts at ``start`` and runs ``speed`` times faster."""

    speed: float = 1.0
    start: time = time(7, 0)
    wall: Callable[[], float] = field(default=_time.monotonic)
    _t0: float = field(init=False)

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be positive")
        self._t0 = self.wall()

    def seconds_of_day(self) -> float:
        """Simulated seconds since midnight (wraps at 24 h)."""
        start_s = self.start.hour * 3600 + self.start.minute * 60 + self.start.second
        return (start_s + (self.wall() - self._t0) * self.speed) % DAY_S

    def time_of_day(self) -> time:
        """Simulated clock time."""
        s = int(self.seconds_of_day())
        return time(s // 3600, (s // 60) % 60, s % 60)


class RoomAir:
    """The air of one room as the clock runs: CO2 integrated step by step, PM with noise."""

    def __init__(
        self, room: RoomProfile, clock: SimClock, *, seed: int | None = None, step_s: float = 60.0
    ) -> None:
        self.room = room
        self.clock = clock
        self.rng = random.Random(seed)
        self.step_s = step_s
        self._t = clock.seconds_of_day()
        self._co2 = co2_steady_state(occupancy(self._t, room), room)

    def _advance(self) -> float:
        now = self.clock.seconds_of_day()
        dt = (now - self._t) % DAY_S
        t = self._t
        while dt > 0:
            h = min(dt, self.step_s)
            self._co2 = co2_step(self._co2, occupancy(t, self.room), self.room, h)
            t = (t + h) % DAY_S
            dt -= h
        self._t = now
        return now

    def co2_and_temp(self) -> tuple[float, float]:
        """True CO2 (ppm) and temperature (°C) now, with a little sensor noise."""
        now = self._advance()
        people = occupancy(now, self.room)
        return self._co2 + self.rng.gauss(0.0, 8.0), temperature(now, people)

    def pm(self) -> tuple[float, float, float]:
        """PM1.0, PM2.5, PM10 now."""
        now = self._advance()
        return pm_values(now, occupancy(now, self.room), self.room, self.rng)
