"""The PN532 driver against the simulator over a real pseudo-terminal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from device_drivers import registry
from device_drivers.base import CardRead, TransportError
from device_drivers.pn532 import SPEC, Pn532Config, Pn532Driver
from device_drivers.pn532.frames import FirmwareVersion
from firmware_sim import Pn532Simulator

REARM_S = 0.3


def config(link: Path, **kw: object) -> Pn532Config:
    """Fast polling and a short re-arm time for tests."""
    return Pn532Config.model_validate(
        {"port": str(link), "poll_s": 0.02, "rearm_s": REARM_S, "timeout_s": 1.0, **kw}
    )


async def tap(drv: Pn532Driver, timeout: float = 2.0) -> CardRead:
    """The next tap, failing the test if none comes within ``timeout``."""
    return await asyncio.wait_for(drv.next_card(), timeout)


async def no_tap_for(drv: Pn532Driver, seconds: float) -> None:
    """Assert that no tap comes during ``seconds``."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(drv.next_card(), seconds)


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    """Wait on the loop until ``predicate`` holds; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_open_wakes_and_configures_the_chip(link: Path) -> None:
    with Pn532Simulator(link) as sim:
        assert sim.asleep
        async with Pn532Driver(config(link)) as drv:
            assert not sim.asleep and sim.sam_configured
            assert drv.firmware == FirmwareVersion(ic=0x32, ver=1, rev=6, support=7)
            assert sim.max_retries == b"\xff\x01\x01"
            assert list(sim.commands) == [0x14, 0x02, 0x32]


async def test_a_card_held_gives_one_tap_and_each_presentation_another(link: Path) -> None:
    with Pn532Simulator(link) as sim:
        async with Pn532Driver(config(link)) as drv:
            sim.present("04A1B2C3D4E5F6")
            first = await tap(drv)
            assert first.card == "nfc:04A1B2C3D4E5F6" and first.ts.tzinfo is not None
            polls = sim.polls
            await no_tap_for(drv, 1.0)  # held for a second: polled again and again, one tap
            assert sim.polls - polls >= 10
            sim.remove()
            await until(lambda: sim.polls >= polls + 1)
            await no_tap_for(drv, REARM_S + 0.1)  # absent from the polls for rearm_s
            sim.present("04A1B2C3D4E5F6")
            assert (await tap(drv)).card == "nfc:04A1B2C3D4E5F6"
            sim.present("A1B2C3D4")  # another card at once
            assert (await tap(drv)).card == "nfc:A1B2C3D4"
            await no_tap_for(drv, 0.3)
            assert drv.stats.frames_bad == 0 and sim.taps_presented == 3


async def test_a_quick_lift_is_the_same_presentation(link: Path) -> None:
    with Pn532Simulator(link, card="A1B2C3D4") as sim:
        async with Pn532Driver(config(link, rearm_s=1.0)) as drv:
            assert (await tap(drv)).card == "nfc:A1B2C3D4"
            sim.remove()
            await no_tap_for(drv, 0.2)  # lifted for less than rearm_s
            sim.present("A1B2C3D4")
            await no_tap_for(drv, 0.3)


async def test_bad_checksums_on_the_wire_never_give_a_tap(link: Path) -> None:
    with Pn532Simulator(link) as sim:
        async with Pn532Driver(config(link, timeout_s=0.6)) as drv:
            sim.set_faults(bad_checksum=True)
            sim.present("A1B2C3D4")
            # Every ACK and answer is broken: no tap, the chip counts as lost.
            with pytest.raises(TransportError, match="silent"):
                await tap(drv)
            assert drv.stats.frames_bad > 0 and drv.stats.timeouts == 1
            assert sim.nacks_received > 0  # garbled answers were asked for again


async def test_garbled_frames_are_asked_again_and_give_one_tap(link: Path) -> None:
    with Pn532Simulator(link, seed=9) as sim:
        async with Pn532Driver(config(link)) as drv:
            sim.set_faults(garbage=0.5, bad_checksum=0.3)
            sim.present("04A1B2C3D4E5F6")
            assert (await tap(drv)).card == "nfc:04A1B2C3D4E5F6"
            await no_tap_for(drv, 1.0)
            assert drv.stats.frames_bad > 0 and drv.stats.bytes_discarded > 0
            assert sim.nacks_received > 0


async def test_silence_raises(link: Path) -> None:
    with Pn532Simulator(link) as sim:
        async with Pn532Driver(config(link, timeout_s=0.3)) as drv:
            await no_tap_for(drv, 0.1)
            sim.set_faults(silence=True)
            started = time.monotonic()
            with pytest.raises(TransportError, match="silent"):
                await tap(drv)
            assert time.monotonic() - started < 1.5
        with pytest.raises(TransportError, match="silent"):
            async with Pn532Driver(config(link, timeout_s=0.3)):
                pass


async def test_unplug_raises_and_replug_reads_again(link: Path) -> None:
    with Pn532Simulator(link, card="A1B2C3D4") as sim:
        async with Pn532Driver(config(link, timeout_s=5.0)) as drv:
            assert (await tap(drv)).card == "nfc:A1B2C3D4"
            sim.unplug()
            started = time.monotonic()
            with pytest.raises(TransportError):
                await tap(drv)
            assert time.monotonic() - started < 2.0  # seen as a hang-up, not a timeout
            with pytest.raises(TransportError):
                await tap(drv)
        sim.replug()
        async with Pn532Driver(config(link)) as drv:
            assert (await tap(drv)).card == "nfc:A1B2C3D4"


async def test_missing_port_and_unopened_driver(tmp_path: Path) -> None:
    with pytest.raises(TransportError, match="cannot open"):
        async with Pn532Driver(config(tmp_path / "nope")):
            pass
    with pytest.raises(TransportError):
        await Pn532Driver(config(tmp_path / "nope")).next_card()


def test_spec_is_registered_as_a_card_reader() -> None:
    spec = registry.get("pn532")
    assert spec is SPEC
    assert (spec.kind, spec.model, spec.measurements) == ("card-reader", "PN532", ())
    cfg = spec.config_model.model_validate({"port": "/dev/ttyS0"})
    assert isinstance(cfg, Pn532Config)
    assert (cfg.baudrate, cfg.poll_s, cfg.rearm_s) == (115200, 0.1, 1.0)
    assert isinstance(spec.driver_factory(cfg), Pn532Driver)
    with pytest.raises(ValueError):
        Pn532Config.model_validate({"port": "/dev/x", "bogus": 1})
