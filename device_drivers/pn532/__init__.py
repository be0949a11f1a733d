"""NXP PN532 NFC controller over HSU (UART 115200 8N1), polling ISO/IEC 14443A cards."""

from __future__ import annotations

from device_drivers.base import DriverSpec
from device_drivers.pn532.driver import Pn532Config, Pn532Driver

SPEC = DriverSpec(
    name="pn532",
    kind="card-reader",
    model="PN532",
    config_model=Pn532Config,
    driver_factory=Pn532Driver,
    measurements=(),
)

__all__ = ["SPEC", "Pn532Config", "Pn532Driver"]
