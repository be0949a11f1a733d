"""The QR camera driver against videos written by the camera simulator."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from device_drivers import registry
from device_drivers.base import TransportError
from device_drivers.qrcam import SPEC, QrCamConfig, QrCamDriver
from firmware_sim.qrcam import Presentation, QrCameraSimulator

A, B = "HS-TDN-2026-000123", "HS-LHP-2025-000042"
SCRIPT = [
    Presentation(None, 0.3),
    Presentation(A, 0.8),
    Presentation(None, 0.2),  # pulled away briefly: still one presentation (rearm 0.4 s)
    Presentation(A, 0.5),
    Presentation(None, 0.6),
    Presentation(B, 0.8),
    Presentation(None, 0.3),
    Presentation("HS TDN 1", 0.5),  # a space: the driver must reject it
    Presentation(None, 0.6),
    Presentation(A, 0.8),  # back after 0.6 s away: a new tap
    Presentation(None, 0.3),
]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> QrCameraSimulator:
    """One MJPG video of the script, shared by the tests that only read it."""
    path = tmp_path_factory.mktemp("qrcam") / "door.avi"
    return QrCameraSimulator(path, SCRIPT, fps=10, seed=7).start()


async def taps_until_end(config: QrCamConfig) -> tuple[list[str], QrCamDriver]:
    """Every tap the driver gives until the file ends (the camera is gone)."""
    got: list[str] = []
    async with QrCamDriver(config) as cam:
        with pytest.raises(TransportError, match="ended"):
            async with asyncio.timeout(30):
                while True:
                    got.append((await cam.next_card()).card)
        with pytest.raises(TransportError):  # stays lost
            await cam.next_card()
    return got, cam


@pytest.mark.parametrize("decoder", ["zxing", "pyzbar"])
async def test_each_presentation_is_one_tap_in_order(
    video: QrCameraSimulator, decoder: str
) -> None:
    assert video.presented == [A, A, B, A]
    config = QrCamConfig(source=video.source, decoder=decoder, rearm_s=0.4, realtime=False)
    got, cam = await taps_until_end(config)
    assert got == [f"qr:{A}", f"qr:{B}", f"qr:{A}"]
    assert cam.stats.frames_ok == video.frames_written
    assert cam.stats.frames_bad >= 1  # the payload with a space was decoded, then refused


async def test_realtime_plays_at_the_frame_rate(video: QrCameraSimulator) -> None:
    config = QrCamConfig(source=video.source, rearm_s=0.4, fps=40.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    got, _ = await taps_until_end(config)
    assert loop.time() - started >= video.frames_written / 40.0 * 0.9
    assert got == [f"qr:{A}", f"qr:{B}", f"qr:{A}"]


async def test_image_sequence_and_loop(tmp_path: Path) -> None:
    sim = QrCameraSimulator(tmp_path / "seq" / "f%04d.png",
                            [Presentation(B, 0.4), Presentation(None, 0.6)], seed=3).start()
    config = QrCamConfig(source=sim.source, rearm_s=0.3, realtime=False, loop=True)
    async with QrCamDriver(config) as cam, asyncio.timeout(20):
        taps = [(await cam.next_card()).card for _ in range(3)]  # the file played 3 times
    assert taps == [f"qr:{B}"] * 3
    assert cam.stats.frames_ok >= 2 * sim.frames_written


async def test_a_missing_camera_raises_transport_error(tmp_path: Path) -> None:
    for source in (str(tmp_path / "nothing.avi"), "/dev/video-missing-77"):
        with pytest.raises(TransportError, match="cannot be opened"):
            async with QrCamDriver(QrCamConfig(source=source)):
                pass


async def test_garbage_frames_give_no_taps(tmp_path: Path) -> None:
    sim = QrCameraSimulator(tmp_path / "noise.avi", [Presentation(None, 3.0, noise=True)],
                            seed=5).start()
    got, cam = await taps_until_end(QrCamConfig(source=sim.source, realtime=False))
    assert got == [] and cam.stats.frames_ok == sim.frames_written == 30
    assert cam.stats.frames_bad == 0


def test_registered_as_a_card_reader() -> None:
    spec = registry.get("qrcam")
    assert spec is SPEC and spec.kind == "card-reader"
    assert spec.config_model.model_validate({"source": "/dev/video0"}).decoder == "zxing"


def test_importing_the_driver_leaves_opencv_unloaded() -> None:
    import subprocess

    code = ("import sys, device_drivers.qrcam, device_drivers.registry as r; r.names(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('cv2', 'zxingcpp', 'pyzbar', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
