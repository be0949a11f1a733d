"""The MH-Z19B simulator speaks the datasheet's bytes (checked with the driver's parser here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from device_drivers.mhz19 import frames
from firmware_sim import Mhz19Simulator, make_simulator

FIXTURES = Path(__file__).parents[1] / "device_drivers" / "mhz19" / "fixtures"


def fx(name: str) -> bytes:
    """A golden frame by file name (without .bin)."""
    return (FIXTURES / f"{name}.bin").read_bytes()


def test_simulator_does_not_import_device_drivers() -> None:
    source = (Path(__file__).parents[2] / "firmware_sim" / "mhz19.py").read_text()
    assert "device_drivers" not in source


@pytest.mark.parametrize(
    ("name", "co2", "temp"), [("answer_608ppm_31c", 608, 31), ("answer_1234ppm_27c", 1234, 27)]
)
def test_answer_bytes_are_the_golden_frame(
    link: Path, open_client: Any, name: str, co2: int, temp: int
) -> None:
    with Mhz19Simulator(link, co2_ppm=co2, temp_c=temp) as sim:
        client = open_client(link)
        client.write(fx("cmd_read_co2"))
        raw = b""
        while len(raw) < 9:
            chunk = client.read_raw(0.05)
            assert chunk, "no answer"
            raw += chunk
        assert raw == fx(name)
        assert frames.FrameDecoder().feed(raw) == [frames.decode_frame(fx(name))]
        assert sim.frames_sent == 1
        assert list(sim.commands) == [0x86]


def test_commands_change_state(link: Path, open_client: Any) -> None:
    with Mhz19Simulator(link, co2_ppm=900, temp_c=25) as sim:
        client = open_client(link)
        dec = frames.FrameDecoder()
        for name in ("cmd_abc_off", "cmd_range_2000", "cmd_zero_calibration"):
            client.write(fx(name))
        client.write(fx("cmd_read_co2"))
        (answer,) = client.read_frames(dec, 1)
        assert answer.co2_ppm == 400  # zero calibration took 900 ppm air as 400
        assert sim.abc_enabled is False
        assert sim.range_ppm == 2000
        sim.set_values(co2_ppm=3000)
        client.write(fx("cmd_read_co2"))
        (answer,) = client.read_frames(dec, 1)
        assert answer.co2_ppm == 2000  # clipped to the detection range
        client.write(fx("cmd_abc_on") + fx("cmd_range_5000"))
        client.write(fx("cmd_span_2000"))
        client.write(fx("cmd_read_co2"))
        (answer,) = client.read_frames(dec, 1)
        assert answer.co2_ppm == 2000
        assert sim.abc_enabled is True and sim.range_ppm == 5000


def test_bad_command_checksum_is_ignored(link: Path, open_client: Any) -> None:
    with Mhz19Simulator(link) as sim:
        client = open_client(link)
        bad = fx("cmd_read_co2")[:8] + b"\x00"
        client.write(bad)
        assert client.read_raw(0.2) == b""
        assert sim.bad_commands == 1


def test_fault_modes(link: Path, open_client: Any) -> None:
    with Mhz19Simulator(link, seed=7, co2_ppm=700, temp_c=30) as sim:
        client = open_client(link)
        dec = frames.FrameDecoder()
        sim.set_faults(bad_checksum=True)
        client.write(fx("cmd_read_co2"))
        raw = client.read_raw(0.2)
        assert len(raw) == 9 and dec.feed(raw) == [] and dec.frames_bad == 1
        sim.set_faults(bad_checksum=False, garbage=True)
        client.write(fx("cmd_read_co2"))
        got = client.read_frames(dec, 1)
        assert [f.co2_ppm for f in got] == [700]
        assert sim.garbage_bytes_sent > 0 and dec.bytes_discarded > 9
        sim.set_faults(garbage=False, silence=True)
        client.write(fx("cmd_read_co2"))
        assert client.read_raw(0.2) == b""
        sim.set_faults(silence=False)
        client.write(fx("cmd_read_co2"))
        assert [f.temp_c for f in client.read_frames(dec, 1)] == [30]


def test_factory_follows_a_school_day(link: Path, open_client: Any) -> None:
    from datetime import time

    sim = make_simulator("mhz19", link, seed=3, speed=600.0, start=time(9, 0))
    assert isinstance(sim, Mhz19Simulator)
    with sim:
        client = open_client(link)
        client.write(fx("cmd_read_co2"))
        (answer,) = client.read_frames(frames.FrameDecoder(), 1)
        assert 900 <= answer.co2_ppm <= 2200  # mid-morning in a full classroom
    with pytest.raises(KeyError, match="known"):
        make_simulator("nope", link)
