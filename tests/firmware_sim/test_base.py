"""The pty device: raw bytes, a stable symlink, unplug and replug."""

from __future__ import annotations

import errno
import os
import select
from pathlib import Path
from typing import Any

from firmware_sim.base import PtyDevice, wait_until


class Echo(PtyDevice):
    """Sends back every chunk it hears, as one frame."""

    def on_bytes(self, data: bytes) -> None:
        """Echo."""
        self.send_frame(data)


def test_bytes_pass_untouched(link: Path, open_client: Any) -> None:
    with Echo(link) as dev:
        assert link.is_symlink() and os.readlink(link) == dev.slave_path
        client = open_client(link)
        every_byte = bytes(range(256))  # \r, \n, ^C, ^D, XON/XOFF must all go through raw
        client.write(every_byte)
        got = b""
        while len(got) < 256:
            chunk = client.read_raw(0.05)
            assert chunk, "echo stopped"
            got += chunk
        assert got == every_byte
        assert dev.bytes_received == 256
    assert not link.exists() and not link.is_symlink()


def test_unplug_gives_eio_and_replug_repoints_link(link: Path, open_client: Any) -> None:
    dev = Echo(link).start()
    try:
        client = open_client(link)
        dev.unplug()
        assert not dev.plugged and not link.is_symlink()
        ready, _, _ = select.select([client.fd], [], [], 2.0)
        assert ready, "a hung-up pty must wake its reader"
        try:
            data = os.read(client.fd, 10)
        except OSError as err:
            assert err.errno == errno.EIO
        else:
            assert data == b""  # end of file is the other way a hang-up shows
        dev.replug()
        assert dev.plugged and link.is_symlink()
        assert os.readlink(link) == dev.slave_path
        second = open_client(link)
        second.write(b"hello")
        assert wait_until(lambda: dev.bytes_received == 5)
        assert second.read_raw(0.1) == b"hello"
    finally:
        dev.stop()


def test_write_without_reader_never_blocks(link: Path) -> None:
    with Echo(link) as dev:
        for _ in range(200):  # far more than the pty buffer holds
            dev.send_frame(b"x" * 1024)
        assert dev.frames_sent == 200


def test_garbage_is_counted(link: Path, open_client: Any) -> None:
    with Echo(link, seed=1) as dev:
        client = open_client(link)
        dev.set_faults(garbage=True)
        client.write(b"A")
        assert wait_until(lambda: dev.frames_sent == 1)
        raw = client.read_raw(0.1)
        assert dev.garbage_bytes_sent > 0
        assert raw.endswith(b"A") and len(raw) == 1 + dev.garbage_bytes_sent
