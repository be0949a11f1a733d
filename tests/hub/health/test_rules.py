"""The alert rules as pure functions: each fires and clears, occupied rooms, hysteresis."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from pydantic import ValidationError

from hub.health.occupancy import Occupancy, PeriodSlot
from hub.health.rules import AlertRules, Condition, RuleName, Severity, condition_key, evaluate
from hub.live import LiveState
from protocol import DeviceHealth, Heartbeat
from tests.hub.health.conftest import EDGE, MONDAY_LESSON, ROOM, SCHOOL, at, beat, online_edge

T0 = at("06:00")
LESSONS = Occupancy([PeriodSlot(SCHOOL, ROOM, 0, time(7), time(7, 45)),
                     PeriodSlot(SCHOOL, ROOM, 0, time(7, 50), time(8, 35))],
                    {SCHOOL: "Asia/Ho_Chi_Minh"})


def run(live: LiveState, now: datetime, *, active: set[str] | None = None,
        rules: dict[str, AlertRules] | None = None,
        occupancy: Occupancy = LESSONS) -> dict[str, Condition]:
    edges, devices = live.health_snapshot()
    return evaluate(edges, devices, now, rules=rules, occupancy=occupancy,
                    active=frozenset(active or ()))


def key(rule: RuleName, device: str = "") -> str:
    return condition_key(rule, SCHOOL, EDGE, device)


def air(found: dict[str, Condition]) -> dict[str, Condition]:
    """Only the air-quality conditions (the edges in these tests were born long before)."""
    return {k: c for k, c in found.items() if c.rule in (RuleName.CO2_HIGH, RuleName.PM25_HIGH)}


def heartbeat(live: LiveState, ts: datetime, **figures: object) -> None:
    hb = beat(ts, **figures)  # type: ignore[arg-type]
    live.update_edge(SCHOOL, EDGE, ts=hb.ts, heartbeat=hb)


def co2(live: LiveState, ts: datetime, ppm: float, room: str = ROOM) -> None:
    live.update_reading(SCHOOL, EDGE, "co2-1", "co2", room, ts, {"co2_ppm": ppm, "temp_c": 29.0})


def test_a_healthy_edge_raises_nothing() -> None:
    live = LiveState()
    online_edge(live, T0)
    assert run(live, T0 + timedelta(seconds=30)) == {}


def test_edge_offline_fires_after_its_minutes_and_clears_online() -> None:
    live = LiveState()
    online_edge(live, T0)
    live.update_edge(SCHOOL, EDGE, state="offline", ts=T0 + timedelta(minutes=1))
    assert run(live, T0 + timedelta(minutes=5, seconds=59)) == {}
    found = run(live, T0 + timedelta(minutes=6, seconds=30))
    alert = found[key(RuleName.EDGE_OFFLINE)]
    assert (alert.severity, alert.value, alert.limit) == (Severity.CRITICAL, 5.5, 5)
    assert "mất kết nối" in alert.vi and "offline for 6 min" in alert.en
    # A school that tolerates 30 minutes is not alerted yet.
    assert run(live, T0 + timedelta(minutes=7), rules={SCHOOL: AlertRules(
        edge_offline_min=30)}) == {}
    live.update_edge(SCHOOL, EDGE, state="online", ts=T0 + timedelta(minutes=8))
    assert key(RuleName.EDGE_OFFLINE) not in run(live, T0 + timedelta(minutes=9),
                                                 active={key(RuleName.EDGE_OFFLINE)})


@pytest.mark.parametrize(("rule", "figure", "high", "held", "cleared"), [
    (RuleName.DISK_FULL, "disk", 95.0, 86.0, 84.0),
    (RuleName.CPU_HOT, "temp", 83.0, 76.0, 74.0),
])
def test_box_figures_fire_above_the_limit_and_clear_below_limit_minus_margin(
        rule: RuleName, figure: str, high: float, held: float, cleared: float) -> None:
    live = LiveState()
    online_edge(live, T0)
    heartbeat(live, T0 + timedelta(seconds=30), **{figure: high})
    found = run(live, T0 + timedelta(seconds=31))
    assert set(found) == {key(rule)} and found[key(rule)].value == high
    # Between limit - margin and the limit: a new condition does not fire, an active holds.
    heartbeat(live, T0 + timedelta(seconds=60), **{figure: held})
    assert run(live, T0 + timedelta(seconds=61)) == {}
    assert set(run(live, T0 + timedelta(seconds=61), active={key(rule)})) == {key(rule)}
    heartbeat(live, T0 + timedelta(seconds=90), **{figure: cleared})
    assert run(live, T0 + timedelta(seconds=91), active={key(rule)}) == {}


def test_disk_at_exactly_the_limit_is_not_over_it() -> None:
    live = LiveState()
    online_edge(live, T0, disk=90.0)
    assert run(live, T0 + timedelta(seconds=5)) == {}


def test_outbox_fires_when_over_the_limit_and_rising_and_clears_when_draining() -> None:
    live = LiveState()
    online_edge(live, T0, outbox=900)
    rules = {SCHOOL: AlertRules(outbox_limit=1000)}
    heartbeat(live, T0 + timedelta(seconds=30), outbox=1200)
    found = run(live, T0 + timedelta(seconds=31), rules=rules)
    assert found[key(RuleName.OUTBOX_GROWING)].value == 1200
    outbox = key(RuleName.OUTBOX_GROWING)
    # Flat above the limit: not news for a new condition, still one for an open alert.
    heartbeat(live, T0 + timedelta(seconds=60), outbox=1200)
    assert run(live, T0 + timedelta(seconds=61), rules=rules) == {}
    assert set(run(live, T0 + timedelta(seconds=61), rules=rules, active={outbox})) == {outbox}
    heartbeat(live, T0 + timedelta(seconds=90), outbox=1100)  # draining
    assert run(live, T0 + timedelta(seconds=91), rules=rules, active={outbox}) == {}
    # Rising but under the limit is normal traffic.
    heartbeat(live, T0 + timedelta(seconds=120), outbox=1150)
    assert set(run(live, T0 + timedelta(seconds=121), rules=rules)) == {outbox}
    assert run(live, T0 + timedelta(seconds=121), rules={SCHOOL: AlertRules(
        outbox_limit=5000)}) == {}


def test_messages_the_broker_refused_are_an_alert_until_a_sync_sends_them() -> None:
    live = LiveState()
    online_edge(live, T0)
    assert run(live, T0 + timedelta(seconds=2)) == {}
    heartbeat(live, T0 + timedelta(seconds=30), outbox_refused=12)
    found = run(live, T0 + timedelta(seconds=31))
    refused = found[key(RuleName.MESSAGES_REFUSED)]
    assert refused.value == 12 and refused.severity == "warning"
    assert "12" in refused.en and "sync" in refused.en and "từ chối" in refused.vi
    assert run(live, T0 + timedelta(seconds=31), rules={SCHOOL: AlertRules(
        disabled=(RuleName.MESSAGES_REFUSED,))}) == {}
    heartbeat(live, T0 + timedelta(seconds=60), outbox_refused=0)  # requeued and delivered
    assert run(live, T0 + timedelta(seconds=61)) == {}


def test_a_stale_heartbeat_arriving_late_changes_nothing() -> None:
    live = LiveState()
    online_edge(live, T0)
    heartbeat(live, T0 + timedelta(seconds=60), disk=50.0)
    heartbeat(live, T0 + timedelta(seconds=30), disk=99.0)  # older, QoS 0 out of order
    assert run(live, T0 + timedelta(seconds=61)) == {}


def test_device_not_ok_or_with_growing_errors_fires() -> None:
    live = LiveState()
    online_edge(live, T0, errors=4)
    assert run(live, T0 + timedelta(seconds=5)) == {}, "old errors alone are history"
    heartbeat(live, T0 + timedelta(seconds=30), errors=7)
    found = run(live, T0 + timedelta(seconds=31))
    errors = found[key(RuleName.DEVICE_ERRORS, "co2-1")]
    assert (errors.value, errors.limit, errors.room) == (7, 4, ROOM)
    assert "errors growing" in errors.en
    heartbeat(live, T0 + timedelta(seconds=60), errors=7)
    assert run(live, T0 + timedelta(seconds=61)) == {}
    heartbeat(live, T0 + timedelta(seconds=90), errors=7, ok=False)
    assert "not ok" in run(live, T0 + timedelta(seconds=91))[key(RuleName.DEVICE_ERRORS,
                                                                   "co2-1")].en
    # An agent restart resets its counters: fewer errors is not growth.
    heartbeat(live, T0 + timedelta(seconds=120), errors=0)
    assert run(live, T0 + timedelta(seconds=121)) == {}


def test_a_silent_sensor_fires_but_an_idle_door_reader_does_not() -> None:
    live = LiveState()
    online_edge(live, T0)
    rules = {SCHOOL: AlertRules(device_silent_s=60)}

    def quiet_beat(seconds: int) -> None:
        """Heartbeats keep coming; the sensors' last good read stays at T0 + 10 s."""
        read = T0 + timedelta(seconds=10)
        hb = Heartbeat(ts=T0 + timedelta(seconds=seconds), uptime_s=float(seconds), devices={
            "co2-1": DeviceHealth(ok=True, last_ts=read), "pm-1": DeviceHealth(ok=True,
                                                                               last_ts=read),
            "door-1": DeviceHealth(ok=True)})
        live.update_edge(SCHOOL, EDGE, ts=hb.ts, heartbeat=hb)

    co2(live, T0 + timedelta(seconds=10), 800)
    live.update_reading(SCHOOL, EDGE, "pm-1", "pm", ROOM, T0 + timedelta(seconds=10),
                        {"pm25_ugm3": 12.0})
    quiet_beat(40)
    assert run(live, T0 + timedelta(seconds=65), rules=rules) == {}
    quiet_beat(70)
    quiet_beat(100)
    found = run(live, T0 + timedelta(seconds=101), rules=rules)
    assert set(found) == {key(RuleName.DEVICE_SILENT, "co2-1"),
                          key(RuleName.DEVICE_SILENT, "pm-1")}
    assert found[key(RuleName.DEVICE_SILENT, "co2-1")].value == 91
    # The door reader read no card for 100 s and is fine: its heartbeat entry is its sign,
    # unless the school says door readers must read.
    assert key(RuleName.DEVICE_SILENT, "door-1") in run(
        live, T0 + timedelta(seconds=101), rules={SCHOOL: AlertRules(device_silent_s=60,
                                                                      on_demand_kinds=())})
    co2(live, T0 + timedelta(seconds=102), 810)
    assert key(RuleName.DEVICE_SILENT, "co2-1") not in run(live, T0 + timedelta(seconds=103),
                                                           rules=rules)


def test_silence_is_not_judged_on_an_offline_edge_nor_right_after_it_returns() -> None:
    live = LiveState()
    online_edge(live, T0)
    rules = {SCHOOL: AlertRules(device_silent_s=60, edge_offline_min=60)}
    live.update_edge(SCHOOL, EDGE, state="offline", ts=T0 + timedelta(seconds=5))
    assert run(live, T0 + timedelta(minutes=10), rules=rules) == {}
    live.update_edge(SCHOOL, EDGE, state="online", ts=T0 + timedelta(minutes=10))
    assert run(live, T0 + timedelta(minutes=10, seconds=30), rules=rules) == {}
    assert key(RuleName.DEVICE_SILENT, "co2-1") in run(live, T0 + timedelta(minutes=12),
                                                       rules=rules)


def test_co2_fires_only_in_an_occupied_room() -> None:
    live = LiveState()
    online_edge(live, at("07:00") - timedelta(hours=1))
    co2(live, MONDAY_LESSON, 1650)
    found = air(run(live, MONDAY_LESSON + timedelta(seconds=5)))
    alert = found[key(RuleName.CO2_HIGH, "co2-1")]
    assert (alert.value, alert.limit, alert.room) == (1650, 1500, ROOM)
    assert "A101" in alert.vi and "during a lesson" in alert.en
    # The same air during the 07:45-07:50 break, on Sunday, or in a room without lessons.
    co2(live, at("07:46"), 1650)
    assert air(run(live, at("07:46:30"))) == {}
    sunday = LiveState()
    online_edge(sunday, at("06:00", day="2026-11-22"))
    co2(sunday, at("07:20", day="2026-11-22"), 1650)
    assert air(run(sunday, at("07:20:30", day="2026-11-22"))) == {}
    library = LiveState()
    online_edge(library, at("06:00"))
    co2(library, at("07:21"), 1650, room="Thư viện")
    assert air(run(library, at("07:21:30"))) == {}


def test_a_stale_co2_reading_says_nothing_about_the_room_now() -> None:
    live = LiveState()
    online_edge(live, at("06:00"))
    co2(live, at("07:00"), 1700)
    assert key(RuleName.CO2_HIGH, "co2-1") in run(
        live, at("07:04"), rules={SCHOOL: AlertRules(device_silent_s=300)})
    assert key(RuleName.CO2_HIGH, "co2-1") not in run(
        live, at("07:06"), rules={SCHOOL: AlertRules(device_silent_s=300)})


def test_co2_hysteresis_keeps_a_wavering_room_in_one_state() -> None:
    live = LiveState()
    online_edge(live, at("06:00"))
    co2_key = key(RuleName.CO2_HIGH, "co2-1")
    active: set[str] = set()
    seen = []
    # 1510, 1490, 1510, 1490 ... around the limit; the margin is 100 ppm.
    for second, ppm in enumerate([1510, 1490, 1510, 1490, 1450, 1420, 1510, 1390, 1480]):
        now = MONDAY_LESSON + timedelta(seconds=second * 10)
        co2(live, now, ppm)
        holds = co2_key in run(live, now, active=active)
        active = {co2_key} if holds else set()
        seen.append(holds)
    assert seen == [True, True, True, True, True, True, True, False, False]


def test_pm25_uses_its_own_limit_default_50() -> None:
    live = LiveState()
    online_edge(live, at("06:00"))
    live.update_reading(SCHOOL, EDGE, "pm-1", "pm", ROOM, MONDAY_LESSON, {"pm25_ugm3": 55.0})
    found = air(run(live, MONDAY_LESSON))
    assert set(found) == {key(RuleName.PM25_HIGH, "pm-1")}
    assert found[key(RuleName.PM25_HIGH, "pm-1")].limit == 50
    assert air(run(live, MONDAY_LESSON, rules={SCHOOL: AlertRules(pm25_ugm3=75)})) == {}
    live.update_reading(SCHOOL, EDGE, "pm-1", "pm", ROOM, MONDAY_LESSON, {"pm25_ugm3": 46.0})
    assert set(air(run(live, MONDAY_LESSON, active={key(RuleName.PM25_HIGH, "pm-1")}))) == {
        key(RuleName.PM25_HIGH, "pm-1")}


def test_rules_are_per_school_and_can_be_disabled() -> None:
    live = LiveState()
    online_edge(live, T0, disk=95.0)
    online_edge(live, T0, school="thcs-tan-binh", disk=95.0)
    rules = {SCHOOL: AlertRules(disabled=(RuleName.DISK_FULL,))}
    found = run(live, T0 + timedelta(seconds=5), rules=rules)
    assert set(found) == {condition_key(RuleName.DISK_FULL, "thcs-tan-binh", EDGE)}


def test_occupancy_follows_the_school_timezone_weekday_and_period_bounds() -> None:
    occupancy = Occupancy([PeriodSlot(SCHOOL, "Phòng Lab Hóa", 0, time(13), time(13, 45))],
                          {SCHOOL: "Asia/Ho_Chi_Minh"})
    monday_1300_utc = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 13:00 in the city
    assert occupancy.occupied(SCHOOL, "phòng  lab hóa", monday_1300_utc)
    assert occupancy.occupied(SCHOOL, "Phòng Lab Hóa", monday_1300_utc + timedelta(minutes=44))
    assert not occupancy.occupied(SCHOOL, "Phòng Lab Hóa", monday_1300_utc + timedelta(minutes=45))
    assert not occupancy.occupied(SCHOOL, "Phòng Lab Hóa", monday_1300_utc - timedelta(seconds=1))
    assert not occupancy.occupied(SCHOOL, "Phòng Lab Hóa", monday_1300_utc + timedelta(days=1))
    assert not occupancy.occupied(SCHOOL, "", monday_1300_utc)
    assert not occupancy.occupied("thcs-tan-binh", "Phòng Lab Hóa", monday_1300_utc)
    # 23:30 UTC on Sunday is 06:30 on Monday in Ho Chi Minh City.
    early = Occupancy([PeriodSlot(SCHOOL, ROOM, 0, time(6), time(7))])
    assert early.occupied(SCHOOL, ROOM, datetime(2026, 11, 22, 23, 30, tzinfo=UTC))


@pytest.mark.parametrize(("settings", "field"), [
    ({"co2_ppm": 50}, "co2_ppm"),
    ({"co2_ppm": 1000, "co2_clear_margin_ppm": 1000}, "co2_clear_margin_ppm"),
    ({"disk_pct": 101}, "disk_pct"),
    ({"open_after_s": -1}, "open_after_s"),
    ({"disabled": ["coffee_machine"]}, "disabled.0"),
    ({"on_demand_kinds": ["Card Reader"]}, "on_demand_kinds.0"),
    ({"co2": 1200}, "co2"),
])
def test_wrong_rule_settings_name_their_field(settings: dict, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        AlertRules.model_validate(settings)
    assert ".".join(str(p) for p in error.value.errors()[0]["loc"]) == field
