"""The PMS5003 driver against the simulator over a real pseudo-terminal."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from device_drivers import registry
from device_drivers.base import TransportError
from device_drivers.pms5003 import Pms5003Config, Pms5003Driver
from firmware_sim import Pms5003Simulator, wait_until

PM = {"pm1_ugm3": 20.0, "pm25_ugm3": 40.0, "pm10_ugm3": 60.0}


def config(link: Path, **kw: object) -> Pms5003Config:
    """A fast-paced config for tests."""
    return Pms5003Config.model_validate(
        {"port": str(link), "interval_s": 0.05, "timeout_s": 1.0, **kw}
    )


async def test_active_readings_are_atmospheric_values(link: Path) -> None:
    # 20/40/60 µg/m³ ATM; the simulator's CF=1 words differ (45/75), so a mix-up shows.
    with Pms5003Simulator(link, period_s=0.01, pm=(20, 40, 60)):
        async with Pms5003Driver(config(link)) as drv:
            readings = [await drv.read() for _ in range(3)]
            assert [r.values for r in readings] == [PM] * 3
            assert drv.stats.frames_ok >= 3


async def test_read_gives_the_newest_frame_not_a_backlog(link: Path) -> None:
    with Pms5003Simulator(link, period_s=0.01, pm=(5, 8, 10)) as sim:
        async with Pms5003Driver(config(link, interval_s=0.3)) as drv:
            assert (await drv.read()).values["pm25_ugm3"] == 8.0
            sim.set_values(30, 55, 80)
            # ~30 frames stream in before the next read; only the newest counts.
            reading = await drv.read()
            assert reading.values == {"pm1_ugm3": 30.0, "pm25_ugm3": 55.0, "pm10_ugm3": 80.0}
            assert drv.stats.frames_ok > 10


async def test_passive_mode_polls(link: Path) -> None:
    with Pms5003Simulator(link, period_s=0.01, pm=(20, 40, 60)) as sim:
        async with Pms5003Driver(config(link, mode="passive")) as drv:
            assert (await drv.read()).values == PM
            assert not sim.active
            assert (await drv.read()).values == PM
            assert [c for c in sim.commands if c[0] == 0xE2] == [(0xE2, 0), (0xE2, 0)]


async def test_opening_wakes_a_sleeping_sensor(link: Path) -> None:
    with Pms5003Simulator(link, period_s=0.01, pm=(20, 40, 60)) as sim:
        sim.asleep = True
        sim.active = False
        async with Pms5003Driver(config(link)) as drv:
            assert (await drv.read()).values == PM
            assert not sim.asleep and sim.active


async def test_garbage_and_bad_checksums_are_counted(link: Path) -> None:
    with Pms5003Simulator(link, seed=4, period_s=0.01, pm=(20, 40, 60)) as sim:
        sim.set_faults(garbage=0.5, bad_checksum=0.5)
        async with Pms5003Driver(config(link, interval_s=0.02)) as drv:
            readings = [await drv.read() for _ in range(10)]
            assert all(r.values == PM for r in readings)
            assert wait_until(lambda: drv.stats.frames_bad > 0)
            assert drv.stats.bytes_discarded > 0


async def test_silence_raises_after_timeout(link: Path) -> None:
    with Pms5003Simulator(link, period_s=0.01) as sim:
        async with Pms5003Driver(config(link, timeout_s=0.3)) as drv:
            await drv.read()
            sim.set_faults(silence=True)
            with pytest.raises(TransportError, match="silent"):
                for _ in range(3):  # a frame already on its way may still be handed out
                    started = time.monotonic()
                    await drv.read()
            assert time.monotonic() - started >= 0.3
            assert drv.stats.timeouts == 1


async def test_unplug_raises_and_replug_reads_again(link: Path) -> None:
    with Pms5003Simulator(link, period_s=0.01, pm=(20, 40, 60)) as sim:
        async with Pms5003Driver(config(link, timeout_s=5.0)) as drv:
            await drv.read()
            sim.unplug()
            started = time.monotonic()
            with pytest.raises(TransportError):
                while True:  # a frame already received may still be handed out once
                    await drv.read()
            assert time.monotonic() - started < 2.0  # seen as a hang-up, not a timeout
        sim.replug()
        async with Pms5003Driver(config(link)) as drv:
            assert (await drv.read()).values == PM


async def test_missing_port(tmp_path: Path) -> None:
    with pytest.raises(TransportError, match="cannot open"):
        async with Pms5003Driver(config(tmp_path / "nope")):
            pass


def test_spec_is_registered() -> None:
    spec = registry.get("pms5003")
    assert (spec.kind, spec.model) == ("pm", "PMS5003")
    assert [m.name for m in spec.measurements] == ["pm1_ugm3", "pm25_ugm3", "pm10_ugm3"]
    with pytest.raises(ValueError):
        Pms5003Config.model_validate({"port": "/dev/x", "mode": "burst"})
