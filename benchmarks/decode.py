"""Microseconds per decode of a ~100-byte telemetry payload.

Usage: ``python benchmarks/decode.py [--n N]``

Compares ``protocol.decode`` (what the hub calls: size check, pydantic, error mapping) with the
raw pydantic call ``Telemetry.model_validate_json`` and, for scale, the stdlib ``json.loads``
(which parses but validates nothing). Best of 5 rounds of N decodes each, one core, no I/O.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable

from protocol import Telemetry, decode
from protocol.topics import TopicKind

PAYLOAD = (b'{"v":1,"id":"env-3","ts":"2026-11-20T07:30:00.123000+07:00","seq":12345,'
           b'"values":{"co2_ppm":812.5,"temp_c":29.25}}')


def best_us(func: Callable[[bytes], object], n: int, rounds: int = 5) -> float:
    """Best mean microseconds per call over ``rounds`` rounds of ``n`` calls."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            func(PAYLOAD)
        best = min(best, (time.perf_counter() - started) / n * 1e6)
    return best


def main() -> None:
    """Run each decoder and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="decodes per round")
    args = parser.parse_args()
    decode(TopicKind.TELEMETRY, PAYLOAD)  # the payload must be valid
    cases: list[tuple[str, Callable[[bytes], object]]] = [
        ("protocol.decode(TELEMETRY, ...)", lambda p: decode(TopicKind.TELEMETRY, p)),
        ("Telemetry.model_validate_json", Telemetry.model_validate_json),
        ("json.loads (no validation)", json.loads),
    ]
    print(__doc__.split("Usage:")[0].strip())
    print(f"Payload: {len(PAYLOAD)} bytes; Python {platform.python_version()}; "
          f"best of 5 x {args.n:,}")
    print(f"{'decoder':<34} {'µs/decode':>9} {'decodes/s':>10}")
    for name, func in cases:
        us = best_us(func, args.n)
        print(f"{name:<34} {us:>9.2f} {1e6 / us:>10,.0f}")


if __name__ == "__main__":
    main()
