"""The RDM6300 driver against the simulator over a real pseudo-terminal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from device_drivers import registry
from device_drivers.base import CardRead, TransportError
from device_drivers.rdm6300 import SPEC, Rdm6300Config, Rdm6300Driver
from firmware_sim import Rdm6300Simulator

REARM_S = 0.3


def config(link: Path, **kw: object) -> Rdm6300Config:
    """A config with a short re-arm time for tests."""
    return Rdm6300Config.model_validate({"port": str(link), "rearm_s": REARM_S, **kw})


async def tap(drv: Rdm6300Driver, timeout: float = 2.0) -> CardRead:
    """The next tap, failing the test if none comes within ``timeout``."""
    return await asyncio.wait_for(drv.next_card(), timeout)


async def no_tap_for(drv: Rdm6300Driver, seconds: float) -> None:
    """Assert that no tap comes during ``seconds``."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(drv.next_card(), seconds)


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    """Wait on the loop until ``predicate`` holds; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_card_held_gives_one_tap_and_each_presentation_another(link: Path) -> None:
    with Rdm6300Simulator(link) as sim:
        async with Rdm6300Driver(config(link)) as drv:
            sim.present("0F00A1B2C3")
            first = await tap(drv)
            assert first.card == "em:0F00A1B2C3" and first.ts.tzinfo is not None
            await no_tap_for(drv, 1.0)  # held for a second: frames stream, no new tap
            assert drv.stats.frames_ok >= 10
            sim.remove()
            await asyncio.sleep(REARM_S + 0.1)  # the card is away for longer than rearm_s
            sim.present("0F00A1B2C3")
            assert (await tap(drv)).card == "em:0F00A1B2C3"
            sim.present("62E3086CED")  # another card at once, no pause
            assert (await tap(drv)).card == "em:62E3086CED"
            await no_tap_for(drv, 0.3)
            assert sim.taps_presented == 3


async def test_a_quick_lift_is_the_same_presentation(link: Path) -> None:
    with Rdm6300Simulator(link) as sim:
        async with Rdm6300Driver(config(link, rearm_s=1.0)) as drv:
            sim.present("0123456789")
            assert (await tap(drv)).card == "em:0123456789"
            sim.remove()
            await asyncio.sleep(0.2)  # lifted for less than rearm_s
            sim.present("0123456789")
            await no_tap_for(drv, 0.3)


async def test_bad_checksum_on_the_wire_never_gives_a_tap(link: Path) -> None:
    with Rdm6300Simulator(link, period_s=0.02) as sim:
        async with Rdm6300Driver(config(link)) as drv:
            sim.set_faults(bad_checksum=True)
            sim.present("0F00A1B2C3")
            await until(lambda: drv.stats.frames_bad >= 10)
            await no_tap_for(drv, 0.05)
            assert drv.stats.frames_ok == 0
            sim.set_faults(bad_checksum=False)
            assert (await tap(drv)).card == "em:0F00A1B2C3"


async def test_garbage_and_some_bad_frames_are_survived(link: Path) -> None:
    with Rdm6300Simulator(link, seed=5, period_s=0.02) as sim:
        sim.set_faults(garbage=0.7, bad_checksum=0.3)
        async with Rdm6300Driver(config(link)) as drv:
            sim.present("62E3086CED")
            assert (await tap(drv)).card == "em:62E3086CED"
            await no_tap_for(drv, 0.8)
            assert drv.stats.frames_bad > 0 and drv.stats.bytes_discarded > 0
            assert drv.stats.frames_ok > 10


async def test_unplug_raises_and_replug_reads_again(link: Path) -> None:
    with Rdm6300Simulator(link, card="0F00A1B2C3") as sim:
        async with Rdm6300Driver(config(link)) as drv:
            assert (await tap(drv)).card == "em:0F00A1B2C3"
            sim.unplug()
            with pytest.raises(TransportError):
                await tap(drv)
            with pytest.raises(TransportError):
                await tap(drv)
        sim.replug()
        async with Rdm6300Driver(config(link)) as drv:
            assert (await tap(drv)).card == "em:0F00A1B2C3"


async def test_missing_port_and_unopened_driver(tmp_path: Path) -> None:
    with pytest.raises(TransportError, match="cannot open"):
        async with Rdm6300Driver(config(tmp_path / "nope")):
            pass
    with pytest.raises(TransportError):
        await Rdm6300Driver(config(tmp_path / "nope")).next_card()


def test_spec_is_registered_as_a_card_reader() -> None:
    spec = registry.get("rdm6300")
    assert spec is SPEC
    assert (spec.kind, spec.model, spec.measurements) == ("card-reader", "RDM6300", ())
    cfg = spec.config_model.model_validate({"port": "/dev/ttyAMA0"})
    assert isinstance(cfg, Rdm6300Config) and (cfg.baudrate, cfg.rearm_s) == (9600, 1.0)
    assert isinstance(spec.driver_factory(cfg), Rdm6300Driver)
    with pytest.raises(ValueError):
        Rdm6300Config.model_validate({"port": "/dev/x", "bogus": 1})
