"""A bare pty client: what a driver would see, without the driver's transport."""

from __future__ import annotations

import os
import select
import time
import tty
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest


class Decoder(Protocol):
    """Any family's FrameDecoder."""

    def feed(self, data: bytes) -> list[Any]: ...


class PtyClient:
    """Opens the simulator's symlink in raw mode and reads frames with a deadline."""

    def __init__(self, link: Path) -> None:
        self.fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)

    def write(self, data: bytes) -> None:
        """Bytes to the device."""
        os.write(self.fd, data)

    def read_frames(self, decoder: Decoder, count: int, timeout: float = 3.0) -> list[Any]:
        """At least ``count`` frames, or whatever came before ``timeout``."""
        got: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                got += decoder.feed(os.read(self.fd, 4096))
        return got

    def read_raw(self, timeout: float) -> bytes:
        """Everything that arrives within ``timeout`` (an empty result means silence)."""
        out = b""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                out += os.read(self.fd, 4096)
        return out

    def close(self) -> None:
        """Release the slave."""
        os.close(self.fd)


@pytest.fixture
def link(tmp_path: Path) -> Path:
    """Where a simulator puts its symlink, like /dev/serial/by-id/..."""
    return tmp_path / "dev" / "ttySIM0"


@pytest.fixture
def open_client() -> Iterator[Any]:
    """Open PtyClients on demand; all are closed at the end."""
    clients: list[PtyClient] = []

    def opener(path: Path) -> PtyClient:
        client = PtyClient(path)
        clients.append(client)
        return client

    yield opener
    for c in clients:
        c.close()
