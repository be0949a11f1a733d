"""The PN532 simulator answers byte for byte as the manual says (golden frames)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from device_drivers.pn532 import frames
from firmware_sim import Pn532Simulator, make_simulator

FIXTURES = Path(__file__).parents[1] / "device_drivers" / "pn532" / "fixtures"


def fx(name: str) -> bytes:
    """A golden frame by file name (without .bin)."""
    return (FIXTURES / f"{name}.bin").read_bytes()


def ask(client: Any, command: bytes, want: int, timeout: float = 2.0) -> bytes:
    """Send ``command`` and read ``want`` bytes back (fewer if the chip stays quiet)."""
    client.write(command)
    raw = b""
    deadline = time.monotonic() + timeout
    while len(raw) < want and time.monotonic() < deadline:
        raw += client.read_raw(0.02)
    return raw


def test_simulator_does_not_import_device_drivers() -> None:
    source = (Path(__file__).parents[2] / "firmware_sim" / "pn532.py").read_text()
    assert "device_drivers" not in source


def test_asleep_until_woken_then_answers_golden_frames(link: Path, open_client: Any) -> None:
    with Pn532Simulator(link) as sim:
        client = open_client(link)
        client.write(fx("cmd_get_firmware_version"))
        assert client.read_raw(0.1) == b""  # asleep: HSU needs the wake-up first
        assert sim.ignored_asleep > 0
        pairs = [
            ("cmd_sam_configuration", "answer_sam_configuration"),
            ("cmd_get_firmware_version", "answer_firmware_version"),
            ("cmd_rf_max_retries", "answer_rf_configuration"),
            ("cmd_in_list_passive_target", "answer_in_list_none"),
        ]
        for i, (cmd, answer) in enumerate(pairs):
            prefix = fx("wakeup") if i == 0 else b""
            want = fx("ack") + fx(answer)
            assert ask(client, prefix + fx(cmd), len(want)) == want
        assert sim.sam_configured and sim.max_retries == b"\xff\x01\x01"
        assert list(sim.commands) == [0x14, 0x02, 0x32, 0x4A]


@pytest.mark.parametrize(
    ("uid", "answer"),
    [("A1B2C3D4", "answer_in_list_uid4"), ("nfc:04A1B2C3D4E5F6", "answer_in_list_uid7")],
)
def test_present_card_is_listed(link: Path, open_client: Any, uid: str, answer: str) -> None:
    with Pn532Simulator(link, asleep=False) as sim:
        client = open_client(link)
        sim.present(uid)
        want = fx("ack") + fx(answer)
        assert ask(client, fx("cmd_in_list_passive_target"), len(want)) == want
        (item,) = frames.FrameDecoder().feed(want[6:])
        assert isinstance(item, frames.Frame)
        assert [t.card for t in frames.parse_in_list_passive_target(item)] == [sim.card]
        sim.remove()
        want = fx("ack") + fx("answer_in_list_none")
        assert ask(client, fx("cmd_in_list_passive_target"), len(want)) == want
        assert sim.polls == 2 and sim.taps_presented == 1


def test_nack_repeats_the_last_answer(link: Path, open_client: Any) -> None:
    with Pn532Simulator(link, asleep=False, card="A1B2C3D4") as sim:
        client = open_client(link)
        want = fx("ack") + fx("answer_in_list_uid4")
        assert ask(client, fx("cmd_in_list_passive_target"), len(want)) == want
        assert ask(client, fx("nack"), len(want) - 6) == fx("answer_in_list_uid4")
        assert sim.nacks_received == 1


def test_bad_command_is_ignored_and_unknown_command_gets_the_error_frame(
    link: Path, open_client: Any
) -> None:
    with Pn532Simulator(link, asleep=False) as sim:
        client = open_client(link)
        bad = bytearray(fx("cmd_in_list_passive_target"))
        bad[-2] ^= 0x01  # DCS
        client.write(bytes(bad))
        assert client.read_raw(0.1) == b""
        assert sim.bad_commands == 1
        # Diagnose (00), which the simulator does not implement.
        unknown = bytes.fromhex("00 00 FF 02 FE D4 00 2C 00")
        want = fx("ack") + fx("error_frame")
        assert ask(client, unknown, len(want)) == want


def test_taps_presented_and_uid_checks() -> None:
    sim = Pn532Simulator(Path("/nonexistent/never-started"))
    sim.present("04A1B2C3D4E5F6")
    sim.present("04a1b2c3d4e5f6")
    sim.present("A1B2C3D4")
    assert sim.taps_presented == 2 and sim.card == "nfc:A1B2C3D4"
    for bad in ("A1B2C3", "em:0F00A1B2C3", "zzzzzzzz"):
        with pytest.raises(ValueError):
            sim.present(bad)


def test_bad_checksum_fault_breaks_ack_lcs_and_answer_dcs(link: Path, open_client: Any) -> None:
    with make_simulator("pn532", link, asleep=False, card="A1B2C3D4") as sim:
        client = open_client(link)
        sim.set_faults(bad_checksum=True)
        bad_answer = bytearray(fx("answer_in_list_uid4"))
        bad_answer[-2] ^= 0x5A
        want = bytes.fromhex("00 00 FF 00 A5 00") + bytes(bad_answer)
        raw = ask(client, fx("cmd_in_list_passive_target"), len(want))
        assert raw == want
        dec = frames.FrameDecoder()
        assert dec.feed(raw) == [] and dec.frames_bad >= 2
        assert sim.frames_corrupted == 2
