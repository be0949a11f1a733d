"""The MH-Z19B driver against the simulator over a real pseudo-terminal."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from device_drivers import registry
from device_drivers.base import TransportError
from device_drivers.mhz19 import SPEC, Mhz19Config, Mhz19Driver
from firmware_sim import Mhz19Simulator, wait_until


def config(link: Path, **kw: object) -> Mhz19Config:
    """A fast-paced config for tests."""
    return Mhz19Config.model_validate(
        {"port": str(link), "interval_s": 0.05, "timeout_s": 1.0, **kw}
    )


async def test_readings_have_the_sensor_values(link: Path) -> None:
    with Mhz19Simulator(link, co2_ppm=812, temp_c=29) as sim:
        async with Mhz19Driver(config(link)) as drv:
            started = time.monotonic()
            readings = [await drv.read() for _ in range(3)]
            assert time.monotonic() - started >= 0.1  # paced by interval_s
            assert [r.values for r in readings] == [{"co2_ppm": 812.0, "temp_c": 29.0}] * 3
            sim.set_values(co2_ppm=1530, temp_c=31)
            reading = await drv.read()
            assert reading.values == {"co2_ppm": 1530.0, "temp_c": 31.0}
            assert SPEC.measurements[0].value_fn(reading) == 1530.0
            assert drv.stats.frames_ok == 4 and drv.stats.frames_bad == 0
            assert sim.commands.count(0x86) == 4


async def test_settings_are_sent_on_open(link: Path) -> None:
    with Mhz19Simulator(link) as sim:
        async with Mhz19Driver(config(link, abc=False, range_ppm=2000)) as drv:
            await drv.read()
            assert wait_until(lambda: sim.abc_enabled is False and sim.range_ppm == 2000)


async def test_garbage_and_bad_checksums_are_counted(link: Path) -> None:
    with Mhz19Simulator(link, seed=11, co2_ppm=955, temp_c=28) as sim:
        sim.set_faults(garbage=0.6, bad_checksum=0.5)
        async with Mhz19Driver(config(link, interval_s=0.01)) as drv:
            readings = [await drv.read() for _ in range(15)]
            assert all(r.values == {"co2_ppm": 955.0, "temp_c": 28.0} for r in readings)
            assert drv.stats.frames_bad > 0
            assert drv.stats.bytes_discarded > 0
            assert drv.stats.frames_ok >= 15


async def test_silence_raises_after_timeout_then_recovers(link: Path) -> None:
    with Mhz19Simulator(link, co2_ppm=700) as sim:
        async with Mhz19Driver(config(link, timeout_s=0.3)) as drv:
            await drv.read()
            sim.set_faults(silence=True)
            started = time.monotonic()
            with pytest.raises(TransportError, match="silent"):
                await drv.read()
            assert 0.3 <= time.monotonic() - started < 2.0
            assert drv.stats.timeouts == 1
            sim.set_faults(silence=False)
            assert (await drv.read()).values["co2_ppm"] == 700.0


async def test_unplug_raises_and_replug_reads_again(link: Path) -> None:
    with Mhz19Simulator(link, co2_ppm=640) as sim:
        async with Mhz19Driver(config(link, timeout_s=5.0)) as drv:
            await drv.read()
            sim.unplug()
            started = time.monotonic()
            with pytest.raises(TransportError):
                await drv.read()
            assert time.monotonic() - started < 2.0  # seen as a hang-up, not a timeout
            with pytest.raises(TransportError):
                await drv.read()
        with pytest.raises(TransportError, match="cannot open"):
            async with Mhz19Driver(config(link)):
                pass
        sim.replug()
        async with Mhz19Driver(config(link)) as drv:
            assert (await drv.read()).values["co2_ppm"] == 640.0


async def test_missing_port_and_unopened_driver(tmp_path: Path) -> None:
    with pytest.raises(TransportError, match="cannot open"):
        async with Mhz19Driver(config(tmp_path / "nope")):
            pass
    with pytest.raises(TransportError):
        await Mhz19Driver(config(tmp_path / "nope")).read()


def test_spec_is_registered() -> None:
    spec = registry.get("mhz19")
    assert (spec.kind, spec.model) == ("co2", "MH-Z19B")
    assert [m.name for m in spec.measurements] == ["co2_ppm", "temp_c"]
    assert isinstance(spec.driver_factory(config(Path("/dev/null"))), Mhz19Driver)
    with pytest.raises(ValueError):
        Mhz19Config.model_validate({"port": "/dev/x", "bogus": 1})
