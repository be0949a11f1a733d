"""A camera reading printed QR student cards (OpenCV capture, zxing-cpp or pyzbar)."""

from __future__ import annotations

from device_drivers.base import DriverSpec
from device_drivers.qrcam.driver import QrCamConfig, QrCamDriver

SPEC = DriverSpec(
    name="qrcam",
    kind="card-reader",
    model="USB/CSI camera + QR decoder",
    config_model=QrCamConfig,
    driver_factory=QrCamDriver,
)

__all__ = ["SPEC", "QrCamConfig", "QrCamDriver"]
