"""Byte-exact device simulators over pseudo-terminals, made by family name."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Any, Literal, overload

from firmware_sim.base import PtyDevice, wait_until
from firmware_sim.mhz19 import Mhz19Simulator
from firmware_sim.occupancy import RoomAir, RoomProfile, SimClock
from firmware_sim.pms5003 import Pms5003Simulator
from firmware_sim.pn532 import Pn532Simulator
from firmware_sim.qrcam import Presentation, QrCameraSimulator
from firmware_sim.rdm6300 import Rdm6300Simulator

FAMILIES = ("mhz19", "pms5003", "rdm6300", "pn532", "qrcam")


@overload
def make_simulator(
    family: Literal["qrcam"], link: Path, *, seed: int | None = None, speed: float = 1.0,
    **options: Any,
) -> QrCameraSimulator: ...
@overload
def make_simulator(
    family: Literal["rdm6300"],
    link: Path,
    *,
    seed: int | None = None,
    speed: float = 1.0,
    **options: Any,
) -> Rdm6300Simulator: ...
@overload
def make_simulator(
    family: Literal["pn532"],
    link: Path,
    *,
    seed: int | None = None,
    speed: float = 1.0,
    **options: Any,
) -> Pn532Simulator: ...
@overload
def make_simulator(
    family: str, link: Path, *, seed: int | None = None, speed: float = 1.0, **options: Any
) -> PtyDevice: ...
def make_simulator(
    family: str,
    link: Path,
    *,
    seed: int | None = None,
    speed: float = 1.0,
    **options: Any,
) -> PtyDevice | QrCameraSimulator:
    """A not-yet-started simulator of ``family`` behind symlink ``link``; call ``start()``.

    Without fixed values in ``options`` (``co2_ppm``/``temp_c`` or ``pm``) the air follows a
    school day (``room``: RoomProfile, ``start``: time of day, ``speed``: clock factor).
    Other options go to the simulator (e.g. ``period_s`` for the PMS5003).
    """
    room: RoomProfile = options.pop("room", RoomProfile())
    start: time = options.pop("start", time(7, 0))
    if family == "mhz19":
        if "co2_ppm" not in options and "source" not in options:
            air = RoomAir(room, SimClock(speed=speed, start=start), seed=seed)
            options["source"] = air.co2_and_temp
        return Mhz19Simulator(link, seed=seed, **options)
    if family == "pms5003":
        if "pm" not in options and "source" not in options:
            air = RoomAir(room, SimClock(speed=speed, start=start), seed=seed)
            options["source"] = air.pm
        return Pms5003Simulator(link, seed=seed, **options)
    if family == "rdm6300":  # card readers: ``card`` puts one on; present()/remove() later
        return Rdm6300Simulator(link, seed=seed, **options)
    if family == "pn532":
        return Pn532Simulator(link, seed=seed, **options)
    if family == "qrcam":  # a camera: ``link`` is the video file (.avi) or frames/%05d.png
        return QrCameraSimulator(link, seed=seed, **options)
    raise KeyError(f"unknown simulator {family!r}; known: {', '.join(FAMILIES)}")


__all__ = [
    "FAMILIES",
    "Mhz19Simulator",
    "Pms5003Simulator",
    "Pn532Simulator",
    "Presentation",
    "PtyDevice",
    "QrCameraSimulator",
    "Rdm6300Simulator",
    "RoomAir",
    "RoomProfile",
    "SimClock",
    "make_simulator",
    "wait_until",
]
