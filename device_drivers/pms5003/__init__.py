"""Plantower PMS5003 laser particulate sensor on a UART (9600 8N1)."""

from __future__ import annotations

from collections.abc import Callable

from device_drivers.base import DriverSpec, MeasurementSpec, Reading
from device_drivers.pms5003.driver import Pms5003Config, Pms5003Driver


def _value(name: str) -> Callable[[Reading], float | None]:
    def fn(reading: Reading) -> float | None:
        """The named value of a reading, or None when the reading lacks it."""
        return reading.values.get(name)

    return fn


# The datasheet's effective range is 0-500 µg/m³ and its maximum 1000 (PM2.5 standard).
SPEC = DriverSpec(
    name="pms5003",
    kind="pm",
    model="PMS5003",
    config_model=Pms5003Config,
    driver_factory=Pms5003Driver,
    measurements=(
        MeasurementSpec(
            "pm1_ugm3", unit="µg/m³", minimum=0, maximum=1000, value_fn=_value("pm1_ugm3")
        ),
        MeasurementSpec(
            "pm25_ugm3", unit="µg/m³", minimum=0, maximum=1000, value_fn=_value("pm25_ugm3")
        ),
        MeasurementSpec(
            "pm10_ugm3", unit="µg/m³", minimum=0, maximum=1000, value_fn=_value("pm10_ugm3")
        ),
    ),
)

__all__ = ["SPEC", "Pms5003Config", "Pms5003Driver"]
