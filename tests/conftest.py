"""Shared fixtures: private servers on free ports, started by the tests themselves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smartschool_cli.localservers.mosquitto import Mosquitto, mosquitto_binary


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A private Mosquitto with persistence, fresh for each test."""
    if mosquitto_binary() is None:
        pytest.fail("mosquitto is not installed; run scripts/bootstrap.sh")
    server = Mosquitto(tmp_path / "mosquitto")
    server.start()
    yield server
    server.kill()
