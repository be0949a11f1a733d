"""Winsen MH-Z19B NDIR CO2 sensor on a UART (9600 8N1)."""

from __future__ import annotations

from collections.abc import Callable

from device_drivers.base import DriverSpec, MeasurementSpec, Reading
from device_drivers.mhz19.driver import Mhz19Config, Mhz19Driver


def _value(name: str) -> Callable[[Reading], float | None]:
    def fn(reading: Reading) -> float | None:
        """The named value of a reading, or None when the reading lacks it."""
        return reading.values.get(name)

    return fn


SPEC = DriverSpec(
    name="mhz19",
    kind="co2",
    model="MH-Z19B",
    config_model=Mhz19Config,
    driver_factory=Mhz19Driver,
    measurements=(
        MeasurementSpec(
            "co2_ppm", unit="ppm", minimum=0, maximum=10000, value_fn=_value("co2_ppm")
        ),
        MeasurementSpec("temp_c", unit="°C", minimum=-40, maximum=215, value_fn=_value("temp_c")),
    ),
)

__all__ = ["SPEC", "Mhz19Config", "Mhz19Driver"]
