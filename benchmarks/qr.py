"""QR student cards: decode rate and ms per frame for each decoder on one generated hard set.

Usage: ``python benchmarks/qr.py [--n 250] [--seed 2026] [--rounds 3]``

The hard set (``firmware_sim.qrframes.hard_set``) is 640×480 frames of a printed card with a
version-1 QR code 60-250 px wide, any rotation, tilted up to 40° each way, defocus or motion
blur, dim or over-exposed light, sensor noise, a thumb over part of some codes, JPEG artefacts;
about 8 % of frames show no code (false reads are counted there and everywhere else).

Each decoder gets the BGR frame, converts it to grayscale (as the driver does) and decodes; the
time covers both. One thread: ``cv2.setNumThreads(1)``, and zxing-cpp and zbar are single-threaded.
Time per frame is the best of ``--rounds`` passes over the set (the machine is shared). zxing-cpp
and pyzbar run through ``device_drivers.qrcam.decoders``, the code the driver runs; "+ 2x retry"
decodes a frame again at twice the size when the first attempt found nothing (the driver's
default). OpenCV's ``QRCodeDetector`` is for reference only. Target (issue 3): ≥ 95 % of frames
with a code decoded correctly, at ≤ 5 ms per frame on one core. The 2x retry was chosen on seed
2026; other seeds move every rate by a few points.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

TARGET_RATE = 95.0
TARGET_MS = 5.0

Decoder = Callable[[Any], list[str]]


def decoders() -> list[tuple[str, Decoder]]:
    """Every decoder measured: BGR frame in, decoded payloads out (grayscale included)."""
    import cv2

    from device_drivers.qrcam.decoders import make_decoder

    def through_gray(decode: Callable[[Any], list[bytes]]) -> Decoder:
        def run(frame: Any) -> list[str]:
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            return [p.decode("latin-1") for p in decode(gray)]

        return run

    detector = cv2.QRCodeDetector()

    def opencv(frame: Any) -> list[str]:
        text = detector.detectAndDecode(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))[0]
        return [text] if text else []

    return [
        ("zxing-cpp", through_gray(make_decoder("zxing", retry_upscaled=False))),
        ("zxing-cpp + 2x retry (driver default)",
         through_gray(make_decoder("zxing", retry_upscaled=True))),
        ("pyzbar", through_gray(make_decoder("pyzbar", retry_upscaled=False))),
        ("pyzbar + 2x retry", through_gray(make_decoder("pyzbar", retry_upscaled=True))),
        ("OpenCV QRCodeDetector (reference)", opencv),
    ]


def measure(decode: Decoder, frames: list[tuple[Any, str | None]], rounds: int) -> dict[str, float]:
    """Decode rate, false reads, best mean ms per frame and that round's p95."""
    best: list[float] | None = None
    correct = false = 0
    for round_no in range(rounds):
        times: list[float] = []
        for frame, expected in frames:
            started = time.perf_counter()
            found = decode(frame)
            times.append((time.perf_counter() - started) * 1000)
            if round_no == 0:
                correct += expected is not None and expected in found
                false += sum(1 for p in found if p != expected)
        if best is None or statistics.fmean(times) < statistics.fmean(best):
            best = times
    assert best is not None
    with_code = sum(1 for _, p in frames if p is not None)
    return {
        "rate": 100.0 * correct / with_code,
        "false": float(false),
        "ms": statistics.fmean(best),
        "p95": statistics.quantiles(best, n=20)[-1],
    }


def main() -> None:
    """Generate the hard set, run every decoder on it, print a table with PASS/FAIL."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=250, help="frames in the hard set")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rounds", type=int, default=3, help="timed passes; the best counts")
    args = parser.parse_args()

    from importlib.metadata import version

    import cv2

    from firmware_sim.qrframes import hard_set

    cv2.setNumThreads(1)
    started = time.perf_counter()
    frames = hard_set(args.n, seed=args.seed)
    made_s = time.perf_counter() - started
    with_code = sum(1 for _, p in frames if p is not None)
    print(__doc__.split("Usage:")[0].strip())
    print(f"Hard set: {len(frames)} frames (seed {args.seed}), {with_code} with a code, "
          f"{len(frames) - with_code} without; generated in {made_s:.1f} s")
    print(f"Python {platform.python_version()}, OpenCV {cv2.__version__} "
          f"(setNumThreads(1)), zxing-cpp {version('zxing-cpp')}, pyzbar {version('pyzbar')}; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          f"best of {args.rounds} rounds")
    print(f"Target: >= {TARGET_RATE:.0f} % decoded at <= {TARGET_MS:.0f} ms/frame, one core")
    print(f"{'decoder':<40} {'decoded':>8} {'false':>6} {'ms/frame':>9} {'p95 ms':>7}  verdict")
    for name, decode in decoders():
        r = measure(decode, frames, args.rounds)
        ok = r["rate"] >= TARGET_RATE and r["ms"] <= TARGET_MS and r["false"] == 0
        print(f"{name:<40} {r['rate']:>7.1f}% {int(r['false']):>6} {r['ms']:>9.2f} "
              f"{r['p95']:>7.2f}  {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
