"""The device families this platform knows, one explicit line each (no folder scanning)."""

from __future__ import annotations

from device_drivers.base import DriverSpec

_SPECS: dict[str, DriverSpec] = {}


def register(spec: DriverSpec) -> DriverSpec:
    """Add a family; a second family under the same name is a programming error."""
    if spec.name in _SPECS:
        raise ValueError(f"driver {spec.name!r} registered twice")
    _SPECS[spec.name] = spec
    return spec


def get(name: str) -> DriverSpec:
    """The family called ``name``; KeyError names the known ones."""
    _load()
    try:
        return _SPECS[name]
    except KeyError:
        raise KeyError(f"unknown driver {name!r}; known: {', '.join(sorted(_SPECS))}") from None


def names() -> list[str]:
    """Every registered family's name."""
    _load()
    return sorted(_SPECS)


def _load() -> None:
    if _SPECS:
        return
    # One line per family.
    from device_drivers import mhz19, pms5003

    register(mhz19.SPEC)
    register(pms5003.SPEC)
    from device_drivers import pn532, rdm6300  # card readers

    register(rdm6300.SPEC)
    register(pn532.SPEC)
    from device_drivers import qrcam  # QR cards by camera; OpenCV loads only when opened

    register(qrcam.SPEC)
