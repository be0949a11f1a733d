"""Where the simulated serial device appears for the driver tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def link(tmp_path: Path) -> Path:
    """The stable device path a driver opens, like /dev/serial/by-id/usb-..."""
    return tmp_path / "dev" / "ttyUSB-sim"
