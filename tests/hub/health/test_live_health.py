"""The live state's health fields: what births and heartbeats leave there, and what streams see."""

from __future__ import annotations

from datetime import timedelta

from hub.live import LiveState
from protocol import EdgeState, Status
from tests.hub.health.conftest import EDGE, ROOM, SCHOOL, at, beat, birth

T0 = at("06:30")


def test_a_birth_names_firmware_and_devices_and_a_later_birth_replaces_the_list() -> None:
    live = LiveState()
    live.update_edge(SCHOOL, EDGE, state="online", ts=T0, status=birth(T0, fw="2.0.1"))
    edge = live.health_snapshot()[0][0]
    assert edge.fw == "2.0.1"
    assert {d: (h.kind, h.room, h.known) for d, h in edge.health.items()} == {
        "co2-1": ("co2", ROOM, T0), "pm-1": ("pm", ROOM, T0), "door-1": ("card-reader", ROOM, T0)}
    later = T0 + timedelta(hours=1)
    smaller = Status(ts=later, state=EdgeState.ONLINE, fw="2.1.0",
                     devices=(birth(later, room="A102").devices[0],))
    live.update_edge(SCHOOL, EDGE, state="online", ts=later, status=smaller)
    edge = live.health_snapshot()[0][0]
    assert edge.fw == "2.1.0"
    assert {d: (h.room, h.known) for d, h in edge.health.items()} == {"co2-1": ("A102", T0)}
    # A Last Will carries no firmware: the one the box runs stays known.
    will = Status(ts=later + timedelta(minutes=1), state=EdgeState.OFFLINE)
    live.update_edge(SCHOOL, EDGE, state="offline", ts=will.ts, status=will)
    assert live.health_snapshot()[0][0].fw == "2.1.0"


def test_heartbeats_fill_the_figures_keep_the_one_before_and_ignore_late_ones() -> None:
    live = LiveState()
    live.update_edge(SCHOOL, EDGE, state="online", ts=T0, status=birth(T0))
    first = beat(T0 + timedelta(seconds=30), disk=61.5, temp=58.0, outbox=12, errors=2)
    live.update_edge(SCHOOL, EDGE, ts=first.ts, heartbeat=first)
    edge = live.health_snapshot()[0][0]
    assert (edge.disk_pct, edge.temp_c, edge.cpu_pct, edge.mem_pct, edge.uptime_s) == (
        61.5, 58.0, 12.0, 35.0, 3600.0)
    assert (edge.outbox, edge.outbox_before) == (12, None)
    co2 = edge.health["co2-1"]
    assert (co2.ok, co2.errors, co2.errors_before, co2.reported) == (True, 2, 2, first.ts)
    second = beat(T0 + timedelta(seconds=60), outbox=40, errors=5, ok=False)
    live.update_edge(SCHOOL, EDGE, ts=second.ts, heartbeat=second)
    late = beat(T0 + timedelta(seconds=45), disk=99.0, outbox=1)
    live.update_edge(SCHOOL, EDGE, ts=late.ts, heartbeat=late)
    edge = live.health_snapshot()[0][0]
    assert (edge.outbox, edge.outbox_before, edge.disk_pct) == (40, 12, 40.0)
    co2 = edge.health["co2-1"]
    assert (co2.ok, co2.errors, co2.errors_before) == (False, 5, 2)
    assert edge.last_seen == second.ts


def test_a_snapshot_is_a_copy() -> None:
    live = LiveState()
    live.update_edge(SCHOOL, EDGE, state="online", ts=T0, status=birth(T0))
    live.update_reading(SCHOOL, EDGE, "co2-1", "co2", ROOM, T0, {"co2_ppm": 700.0})
    edges, devices = live.health_snapshot()
    hb = beat(T0 + timedelta(seconds=30), errors=9)
    live.update_edge(SCHOOL, EDGE, ts=hb.ts, heartbeat=hb)
    live.update_reading(SCHOOL, EDGE, "co2-1", "co2", ROOM, hb.ts, {"co2_ppm": 900.0})
    assert edges[0].health["co2-1"].errors == 0 and edges[0].beat_ts is None
    assert devices[0].values == {"co2_ppm": 700.0}


def test_changes_keep_their_keys_and_add_health_and_open_alerts() -> None:
    live = LiveState()
    live.update_edge(SCHOOL, EDGE, state="online", ts=T0, status=birth(T0))
    hb = beat(T0 + timedelta(seconds=30), disk=70.0, ok=False)
    live.update_edge(SCHOOL, EDGE, ts=hb.ts, heartbeat=hb)
    edge = live.changes(0)["edges"][0]
    assert {"school", "edge", "state", "since", "last_seen", "outbox"} <= set(edge)
    assert (edge["fw"], edge["disk_pct"], edge["devices_failing"]) == ("2.0.1", 70.0, 1)

    assert live.changes(0)["schools"] == []
    live.set_open_alerts(SCHOOL, 0)  # nothing to say about a school without news
    assert live.changes(0)["schools"] == []
    before = live.version
    live.set_open_alerts(SCHOOL, 2)
    assert live.version == before + 1
    school = live.changes(0)["schools"][0]
    assert (school["school"], school["alerts_open"], school["taps_today"]) == (SCHOOL, 2, 0)
    live.set_open_alerts(SCHOOL, 2)  # the monitor says it every second: no news, no version
    assert live.version == before + 1
    live.set_open_alerts(SCHOOL, 0)
    assert live.changes(before + 1)["schools"][0]["alerts_open"] == 0
    live.record_decision(SCHOOL, "2026-11-23", "tap", arrival=True)
    assert live.changes(0)["schools"][0]["arrivals_today"] == 1
