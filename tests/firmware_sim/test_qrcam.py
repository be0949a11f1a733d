"""The synthetic QR camera: payload format, determinism, the files it writes."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp

from firmware_sim import FAMILIES, QrCameraSimulator, make_simulator
from firmware_sim.qrcam import Presentation
from firmware_sim.qrframes import (
    HEIGHT,
    WIDTH,
    Conditions,
    hard_set,
    render,
    student_payload,
)

PAYLOAD = re.compile(r"^HS-[A-Z]{2,6}-20\d\d-\d{6}$")


def read_qr(image: np.ndarray) -> list[str]:
    """Independent check with zxing-cpp (not through the driver)."""
    return [r.text for r in zxingcpp.read_barcodes(image)]


def test_student_payload_format() -> None:
    assert student_payload("TDN", 2026, 123) == "HS-TDN-2026-000123"
    for bad in (("tdn", 2026, 1), ("T", 2026, 1), ("TDN", 1999, 1), ("TDN", 2026, 10**6)):
        with pytest.raises(ValueError):
            student_payload(*bad)


def test_a_plain_frame_holds_a_readable_code() -> None:
    import random

    frame = render("HS-TDN-2026-000123", Conditions(noise_sigma=1.0), random.Random(1))
    assert frame.shape == (HEIGHT, WIDTH, 3) and frame.dtype == np.uint8
    assert read_qr(frame) == ["HS-TDN-2026-000123"]


def test_hard_set_is_seeded_and_labelled() -> None:
    one, two, other = hard_set(8, seed=4, empty=0.25), hard_set(8, seed=4, empty=0.25), hard_set(
        8, seed=5, empty=0.25
    )
    assert [p for _, p in one] == [p for _, p in two]
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(one, two, strict=True))
    assert not all(np.array_equal(a, b) for (a, _), (b, _) in zip(one, other, strict=True))
    assert all(p is None or PAYLOAD.match(p) for _, p in one)
    for frame, payload in one:  # a frame never shows a code other than the one it is labelled
        assert set(read_qr(frame)) <= ({payload} if payload else set())


def test_video_has_one_frame_per_tenth_of_a_second(tmp_path: Path) -> None:
    script = [Presentation("HS-GD-2024-000007", 0.5), Presentation(None, 0.3),
              Presentation("bad payload", 0.2), Presentation(None, 0.2, noise=True)]
    sim = make_simulator("qrcam", tmp_path / "cam.avi", seed=2, script=script)
    assert "qrcam" in FAMILIES and isinstance(sim, QrCameraSimulator)
    with sim:
        cap = cv2.VideoCapture(sim.source)
        frames = []
        while (got := cap.read())[0]:
            frames.append(got[1])
        cap.release()
    assert len(frames) == sim.frames_written == 12
    assert sim.presented == ["HS-GD-2024-000007"]  # the payload with a space is not a card
    assert read_qr(frames[2]) == ["HS-GD-2024-000007"] and read_qr(frames[6]) == []


def test_image_sequence(tmp_path: Path) -> None:
    sim = QrCameraSimulator(tmp_path / "f%03d.png", [Presentation("HS-LQD-2022-000001", 0.3)],
                            seed=1).start()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["f000.png", "f001.png", "f002.png"]
    assert read_qr(cv2.imread(str(tmp_path / "f001.png"))) == ["HS-LQD-2022-000001"]
    assert sim.frames_written == 3
