"""The RDM6300 simulator sends the golden frames (checked with the driver's parser here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from device_drivers.rdm6300 import frames
from firmware_sim import Rdm6300Simulator, make_simulator

FIXTURES = Path(__file__).parents[1] / "device_drivers" / "rdm6300" / "fixtures"


def fx(name: str) -> bytes:
    """A golden frame by file name (without .bin)."""
    return (FIXTURES / f"{name}.bin").read_bytes()


def test_simulator_does_not_import_device_drivers() -> None:
    source = (Path(__file__).parents[2] / "firmware_sim" / "rdm6300.py").read_text()
    assert "device_drivers" not in source


@pytest.mark.parametrize("card", ["62E3086CED", "em:0F00A1B2C3", "0123456789"])
def test_a_present_card_streams_its_golden_frame(link: Path, open_client: Any, card: str) -> None:
    name = "card_" + card.removeprefix("em:")
    with Rdm6300Simulator(link, period_s=0.02) as sim:
        client = open_client(link)
        assert client.read_raw(0.1) == b""  # no card, no bytes
        sim.present(card)
        raw = client.read_raw(0.15)
        assert len(raw) >= 3 * 14 and len(raw) % 14 == 0
        assert raw == fx(name) * (len(raw) // 14)
        assert [f.card for f in frames.FrameDecoder().feed(raw)][0] == "em:" + name[5:]
        sim.remove()
        client.read_raw(0.05)  # a frame already on its way
        assert client.read_raw(0.1) == b""


def test_first_frame_goes_out_at_once(link: Path, open_client: Any) -> None:
    with Rdm6300Simulator(link, period_s=5.0) as sim:
        client = open_client(link)
        sim.present("0f00a1b2c3")
        assert client.read_raw(0.1) == fx("card_0F00A1B2C3")
        assert sim.card == "em:0F00A1B2C3"


def test_taps_presented_counts_new_presentations() -> None:
    sim = Rdm6300Simulator(Path("/nonexistent/never-started"))
    sim.present("0F00A1B2C3")
    sim.present("0F00A1B2C3")  # still on the reader
    assert sim.taps_presented == 1
    sim.present("0123456789")
    sim.remove()
    sim.present("0123456789")
    assert sim.taps_presented == 3
    with pytest.raises(ValueError):
        sim.present("0F00A1B2")
    with pytest.raises(ValueError):
        sim.present("nfc:0F00A1B2C3")


def test_bad_checksum_fault_sends_a_wrong_xor(link: Path, open_client: Any) -> None:
    with Rdm6300Simulator(link, period_s=5.0) as sim:
        client = open_client(link)
        sim.set_faults(bad_checksum=True)
        sim.present("0F00A1B2C3")
        raw = client.read_raw(0.1)
        assert raw == fx("card_0F00A1B2C3_bad_checksum")
        assert sim.frames_corrupted == 1


def test_garbage_and_silence_faults(link: Path, open_client: Any) -> None:
    with make_simulator("rdm6300", link, seed=3, period_s=0.01, card="62E3086CED") as sim:
        client = open_client(link)
        sim.set_faults(garbage=True)
        raw = client.read_raw(0.1)
        assert sim.garbage_bytes_sent > 0
        assert fx("card_62E3086CED") in raw and len(raw) > raw.count(fx("card_62E3086CED")) * 14
        sim.set_faults(garbage=False, silence=True)
        client.read_raw(0.05)
        assert client.read_raw(0.1) == b""
