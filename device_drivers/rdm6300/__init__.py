"""RDM6300-style 125 kHz EM4100 card reader on a UART (9600 8N1)."""

from __future__ import annotations

from device_drivers.base import DriverSpec
from device_drivers.rdm6300.driver import Rdm6300Config, Rdm6300Driver

SPEC = DriverSpec(
    name="rdm6300",
    kind="card-reader",
    model="RDM6300",
    config_model=Rdm6300Config,
    driver_factory=Rdm6300Driver,
    measurements=(),
)

__all__ = ["SPEC", "Rdm6300Config", "Rdm6300Driver"]
