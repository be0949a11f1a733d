"""What one evaluation costs for 200 edges with 5 devices each (the hub follows that many and
evaluates every second). Run with ``-s`` to see the figures."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock

from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.health.monitor import HealthMonitor
from hub.health.occupancy import Occupancy, PeriodSlot
from hub.health.rules import evaluate
from hub.live import LiveState
from protocol import DeviceHealth, DeviceInfo, EdgeState, Heartbeat, Status

EDGES, DEVICES = 200, 5


def city(now: datetime, co2: float) -> tuple[LiveState, Occupancy]:
    """200 edges in 20 schools, each with 3 CO2 sensors, a PM sensor and a door reader, every
    room in a lesson all day."""
    live = LiveState()
    periods = []
    for n in range(EDGES):
        school, edge, room = f"school-{n % 20}", f"edge-{n}", f"P{n}"
        kinds = ["co2", "co2", "co2", "pm", "card-reader"]
        born = Status(ts=now - timedelta(hours=1), state=EdgeState.ONLINE, fw="2.0.1",
                      devices=tuple(DeviceInfo(id=f"d{j}", kind=kinds[j], model="m", room=room)
                                    for j in range(DEVICES)))
        live.update_edge(school, edge, state="online", ts=born.ts, status=born)
        beat = Heartbeat(ts=now - timedelta(seconds=5), uptime_s=3600.0, cpu_pct=10.0,
                         mem_pct=20.0, disk_pct=50.0, temp_c=50.0, outbox=3, devices={
                             f"d{j}": DeviceHealth(ok=True, errors=0, last_ts=now)
                             for j in range(DEVICES)})
        live.update_edge(school, edge, ts=beat.ts, heartbeat=beat)
        for j in range(DEVICES - 1):
            values = {"co2_ppm": co2, "temp_c": 29.0, "rh_pct": 60.0} if j < 3 else {
                "pm25_ugm3": 20.0}
            live.update_reading(school, edge, f"d{j}", kinds[j], room, now, values)
        periods += [PeriodSlot(school, room, day, clock(0), clock(23, 59)) for day in range(7)]
    return live, Occupancy(periods)


def _median_ms(run: object, times: int = 30) -> float:
    took = []
    for _ in range(times):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        took.append(time.perf_counter() - started)
    return statistics.median(took) * 1000


def test_one_evaluation_of_200_edges_takes_milliseconds(sqlite_url: str) -> None:
    now = datetime.now(UTC)
    quiet, occupancy = city(now, co2=800.0)
    stuffy, _ = city(now, co2=1600.0)  # every CO2 sensor over the limit: 600 conditions

    def evaluation(live: LiveState) -> float:
        def run() -> None:
            edges, devices = live.health_snapshot()
            evaluate(edges, devices, now, occupancy=occupancy)
        return _median_ms(run)

    snapshot = _median_ms(quiet.health_snapshot)
    calm, worst = evaluation(quiet), evaluation(stuffy)
    assert len(evaluate(*stuffy.health_snapshot(), now, occupancy=occupancy)) == 600

    upgrade_to_head(sqlite_url)
    engine = make_engine(sqlite_url)
    monitor = HealthMonitor(engine, quiet)
    monitor.refresh()
    ticks = _median_ms(lambda: monitor.tick(now))
    engine.dispose()
    print(f"\n200 edges x 5 devices: snapshot {snapshot:.2f} ms, snapshot+rules {calm:.2f} ms "
          f"(nothing wrong), {worst:.2f} ms (600 CO2 conditions); monitor tick {ticks:.2f} ms")
    # Generous bounds (a busy 2-core box); the point is a small share of the 1 s tick.
    assert calm < 100 and worst < 200 and ticks < 100
