"""School-day air: the timetable, the CO2 balance, PM2.5, and the simulated clock."""

from __future__ import annotations

import random
from datetime import time

import pytest

from firmware_sim import occupancy as occ


def hm(h: int, m: int) -> int:
    """Seconds of day."""
    return h * 3600 + m * 60


def test_school_day_timetable() -> None:
    day = occ.school_day()
    morning = [p for p in day if p.session == "morning"]
    afternoon = [p for p in day if p.session == "afternoon"]
    assert (morning[0].start_s, morning[-1].end_s) == (hm(7, 0), hm(11, 15))
    assert (afternoon[0].start_s, afternoon[-1].end_s) == (hm(13, 0), hm(16, 30))
    assert all(p.end_s - p.start_s == 45 * 60 for p in day)
    gaps = [b.start_s - a.end_s for a, b in zip(morning, morning[1:], strict=False)]
    assert min(gaps) == 5 * 60


def test_occupancy_follows_the_day() -> None:
    room = occ.RoomProfile(capacity=40, attendance=1.0)
    assert occ.occupancy(hm(7, 10), room) == 40
    assert occ.occupancy(hm(7, 47), room) == 20  # a 5-minute break
    assert 0 < occ.occupancy(hm(12, 0), room) < 20  # lunch
    assert occ.occupancy(hm(6, 0), room) == 0
    assert occ.occupancy(hm(20, 0), room) == 0


def test_co2_rises_in_class_and_decays_when_empty() -> None:
    room = occ.RoomProfile()
    target = occ.co2_steady_state(38, room)
    assert 1000 <= target <= 2500
    c = occ.OUTDOOR_CO2_PPM
    for _ in range(45):
        c = occ.co2_step(c, 38, room, 60)
    assert 1000 <= c <= 2000  # one lesson in a full room
    for _ in range(180):
        c = occ.co2_step(c, 0, room, 60)
    assert c == pytest.approx(occ.OUTDOOR_CO2_PPM, abs=10)


def test_pm_has_rush_hours_and_noise() -> None:
    assert occ.outdoor_pm25(hm(7, 30)) > occ.outdoor_pm25(hm(13, 0)) + 10
    assert occ.outdoor_pm25(hm(18, 0)) > occ.outdoor_pm25(hm(3, 0)) + 10
    rng = random.Random(1)
    room = occ.RoomProfile()
    samples = [occ.pm_values(hm(10, 0), 38, room, rng) for _ in range(50)]
    assert len({round(s[1], 3) for s in samples}) > 40
    assert all(pm1 < pm25 < pm10 for pm1, pm25, pm10 in samples)


def test_sim_clock_runs_fast_from_its_start() -> None:
    now = [1000.0]
    clock = occ.SimClock(speed=60.0, start=time(7, 0), wall=lambda: now[0])
    assert clock.time_of_day() == time(7, 0)
    now[0] += 45.0  # 45 wall seconds = 45 school minutes
    assert clock.time_of_day() == time(7, 45)
    now[0] += 17 * 60.0
    assert clock.time_of_day() == time(0, 45)  # wraps past midnight
    with pytest.raises(ValueError):
        occ.SimClock(speed=0)


def test_room_air_tracks_the_clock() -> None:
    now = [0.0]
    clock = occ.SimClock(speed=1.0, start=time(6, 30), wall=lambda: now[0])
    air = occ.RoomAir(occ.RoomProfile(), clock, seed=2)
    early, _ = air.co2_and_temp()
    assert early == pytest.approx(occ.OUTDOOR_CO2_PPM, abs=40)
    now[0] = hm(1, 15)  # 07:45: the first lesson is over
    late, temp = air.co2_and_temp()
    assert late > 1000
    assert 20 < temp < 40
    pm1, pm25, pm10 = air.pm()
    assert 0 < pm1 < pm25 < pm10
