"""The PMS5003 simulator speaks the data manual's bytes (checked with the driver's parser here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from device_drivers.pms5003 import frames
from firmware_sim import Pms5003Simulator, make_simulator, wait_until

FIXTURES = Path(__file__).parents[1] / "device_drivers" / "pms5003" / "fixtures"


def fx(name: str) -> bytes:
    """A golden frame by file name (without .bin)."""
    return (FIXTURES / f"{name}.bin").read_bytes()


def test_simulator_does_not_import_device_drivers() -> None:
    source = (Path(__file__).parents[2] / "firmware_sim" / "pms5003.py").read_text()
    assert "device_drivers" not in source


def test_data_frame_bytes_are_golden(tmp_path: Path) -> None:
    # 33/48/60 µg/m³ ATM in the golden frame; CF=1 and counts follow the simulator's own rules,
    # so compare the parts the manual fixes: header, length, ATM words, check code.
    sim = Pms5003Simulator(tmp_path / "x", pm=(5, 8, 10))
    frame = sim.data_frame()
    golden = fx("frame_clean_air")
    assert frame[:4] == golden[:4]
    assert frame[10:16] == golden[10:16]
    assert frame[4:10] == golden[4:10]  # clean air: CF=1 equals ATM
    assert frame[28:30] == golden[28:30]  # reserved: version 0x97, no error
    decoded = frames.decode_frame(frame)
    assert isinstance(decoded, frames.DataFrame) and decoded.pm_atm == (5, 8, 10)


def test_active_mode_streams(link: Path, open_client: Any) -> None:
    with Pms5003Simulator(link, period_s=0.02, pm=(20, 40, 60)) as sim:
        client = open_client(link)
        got = client.read_frames(frames.FrameDecoder(), 3)
        assert len(got) >= 3
        assert all(f.pm_atm == (20, 40, 60) for f in got)
        assert got[0].pm_cf1 != got[0].pm_atm  # dirty air: CF=1 reads higher
        assert sim.frames_sent >= 3


def test_passive_mode_answers_read_and_acks_mode(link: Path, open_client: Any) -> None:
    with Pms5003Simulator(link, period_s=0.02, pm=(5, 8, 10)) as sim:
        client = open_client(link)
        client.write(fx("cmd_mode_passive"))
        assert wait_until(lambda: not sim.active)
        dec = frames.FrameDecoder()
        raw = client.read_raw(0.1)
        assert fx("ack_mode_passive") in raw
        assert client.read_raw(0.1) == b""  # passive: no streaming
        client.write(fx("cmd_read_passive"))
        got = client.read_frames(dec, 1)
        assert [f.pm_atm for f in got] == [(5, 8, 10)]
        assert list(sim.commands) == [(0xE1, 0x00), (0xE2, 0x00)]


def test_sleep_and_wakeup(link: Path, open_client: Any) -> None:
    with Pms5003Simulator(link, period_s=0.02) as sim:
        client = open_client(link)
        client.write(fx("cmd_sleep"))
        assert wait_until(lambda: sim.asleep)
        client.read_raw(0.05)
        assert client.read_raw(0.1) == b""
        client.write(fx("cmd_read_passive") + fx("cmd_mode_passive"))
        assert client.read_raw(0.1) == b""  # asleep: deaf to all but wake-up
        client.write(fx("cmd_wakeup"))
        assert len(client.read_frames(frames.FrameDecoder(), 2)) == 2


def test_fault_modes(link: Path, open_client: Any) -> None:
    with Pms5003Simulator(link, seed=5, period_s=0.01, pm=(5, 8, 10)) as sim:
        client = open_client(link)
        dec = frames.FrameDecoder()
        sim.set_faults(garbage=0.5, bad_checksum=0.5)
        got = client.read_frames(dec, 10, timeout=5)
        assert len(got) >= 10 and all(f.pm_atm == (5, 8, 10) for f in got)
        assert dec.frames_bad > 0 and dec.bytes_discarded > 0
        sim.set_faults(silence=True)
        client.read_raw(0.05)
        assert client.read_raw(0.1) == b""
        sim.set_faults(silence=False, garbage=False, bad_checksum=False)
        assert len(client.read_frames(frames.FrameDecoder(), 2)) >= 2


def test_factory_makes_a_streaming_pms(link: Path, open_client: Any) -> None:
    sim = make_simulator("pms5003", link, seed=1, speed=60.0, period_s=0.02)
    assert isinstance(sim, Pms5003Simulator)
    with sim:
        client = open_client(link)
        got = client.read_frames(frames.FrameDecoder(), 2)
        assert len(got) >= 2
        pm1, pm25, pm10 = got[0].pm_atm
        assert 0 < pm1 <= pm25 <= pm10 < 200
