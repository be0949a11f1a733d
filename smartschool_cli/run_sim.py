"""``smartschool sim``: one simulated device on a pseudo-terminal until Ctrl-C."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from rich.console import Console


def run_sim(family: str, link: Path, *, speed: float, seed: int | None, console: Console) -> None:
    """Serve ``family``'s bytes behind the symlink ``link`` until SIGINT or SIGTERM."""
    from firmware_sim import FAMILIES, make_simulator

    if family not in FAMILIES:
        console.print(f"[red]Unknown device family {family!r}; known: {', '.join(FAMILIES)}[/]")
        raise SystemExit(2)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    link.parent.mkdir(parents=True, exist_ok=True)
    with make_simulator(family, link, seed=seed, speed=speed) as sim:
        console.print(f"{family} simulator on [cyan]{link}[/] -> {sim.slave_path}; Ctrl-C to stop")
        stop.wait()
    console.print("simulator stopped")
