"""Device supervision with the real drivers against the simulators on pseudo-terminals."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path

from edge_agent.app import EdgeAgent
from edge_agent.outbox import Outbox
from edge_agent.supervisor import Supervisor
from firmware_sim import make_simulator
from protocol import topics
from protocol.decode import decode_as
from protocol.messages import Heartbeat, Status, Telemetry
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.edge_agent.helpers import EDGE, SCHOOL, Collector, Received, edge_config

FAST = {"device_retry_min_s": 0.05, "device_retry_max_s": 0.3}


async def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_missing_port_is_counted_and_retried(mosquitto: Mosquitto, tmp_path: Path) -> None:
    config = edge_config(
        mosquitto,
        tmp_path,
        devices=[{"id": "co2-1", "driver": "mhz19", "port": str(tmp_path / "no-such-tty")}],
        **FAST,
    )
    async with Outbox(tmp_path / "o.sqlite") as outbox:
        supervisor = Supervisor(config, outbox)
        task = asyncio.create_task(supervisor.run())
        try:
            await _wait_for(lambda: supervisor.health["co2-1"].errors >= 3)
            health = supervisor.snapshot()["co2-1"]
            assert not health.ok and health.last_ts is None
            assert "no-such-tty" in (supervisor.health["co2-1"].last_error or "")
            assert outbox.backlog == 0
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_readings_flow_and_an_unplugged_sensor_recovers(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    co2_link, pm_link = tmp_path / "ttyCO2", tmp_path / "ttyPM"
    co2 = make_simulator("mhz19", co2_link, seed=1, co2_ppm=812, temp_c=26)
    pm = make_simulator("pms5003", pm_link, seed=2, pm=(5.0, 12.0, 20.0), period_s=0.1)
    config = edge_config(
        mosquitto,
        tmp_path,
        heartbeat_s=0.2,
        devices=[
            {
                "id": "co2-1",
                "driver": "mhz19",
                "port": str(co2_link),
                "interval_s": 0.1,
                "timeout_s": 0.6,
            },
            {
                "id": "pm-1",
                "driver": "pms5003",
                "port": str(pm_link),
                "interval_s": 0.1,
                "room": "Lab 2",
            },
        ],
        **FAST,
    )
    base = topics.edge_base(SCHOOL, EDGE)
    co2.start()
    pm.start()
    hub = Collector(mosquitto, [f"{base}/#"])
    try:
        await hub.subscribed()
        async with EdgeAgent(config) as agent:

            def telemetry(device: str) -> list[Telemetry]:
                return [
                    decode_as(Telemetry, m.payload) for m in hub.on(f"{base}/telemetry/{device}")
                ]

            await hub.wait(lambda ms: len(telemetry("co2-1")) >= 3 and len(telemetry("pm-1")) >= 3)
            first = telemetry("co2-1")[0]
            assert first.values == {"co2_ppm": 812.0, "temp_c": 26.0}
            assert telemetry("pm-1")[0].values["pm25_ugm3"] == 12.0

            birth = decode_as(Status, hub.on(f"{base}/status")[0].payload)
            assert {(d.id, d.kind, d.model, d.room) for d in birth.devices} == {
                ("co2-1", "co2", "MH-Z19B", "11C3"),
                ("pm-1", "pm", "PMS5003", "Lab 2"),
            }

            # Pull the CO2 sensor's cable: the device turns not-ok, the other keeps going.
            await asyncio.to_thread(co2.unplug)
            await _wait_for(lambda: not agent.supervisor.health["co2-1"].ok)
            errors = agent.supervisor.health["co2-1"].errors
            assert errors >= 1
            pm_before = len(telemetry("pm-1"))
            await hub.wait(lambda ms: len(telemetry("pm-1")) >= pm_before + 3)

            def beat_says_co2_down(ms: list[Received]) -> bool:
                beats = [decode_as(Heartbeat, m.payload) for m in hub.on(f"{base}/heartbeat")]
                return any(not b.devices["co2-1"].ok and b.devices["pm-1"].ok for b in beats)

            await hub.wait(beat_says_co2_down)

            # Plug it back: readings resume without restarting the agent.
            co2_before = len(telemetry("co2-1"))
            co2.set_values(co2_ppm=1450)
            await asyncio.to_thread(co2.replug)
            await hub.wait(lambda ms: len(telemetry("co2-1")) > co2_before, timeout=15)
            assert telemetry("co2-1")[-1].values["co2_ppm"] == 1450.0
            await _wait_for(lambda: agent.supervisor.health["co2-1"].ok)

        seqs = [json.loads(m.payload)["seq"] for m in hub.messages if "/telemetry/" in m.topic]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # one counter for the edge
    finally:
        await asyncio.to_thread(hub.close)
        co2.stop()
        pm.stop()
