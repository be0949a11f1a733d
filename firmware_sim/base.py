"""A serial device on a pseudo-terminal, reachable through a stable symlink, with faults.

The driver opens the symlink (as it would /dev/serial/by-id/...), the device lives on the
master side. ``unplug()`` closes the master, so the driver sees EIO/EOF like a pulled USB
adapter, and removes the symlink; ``replug()`` makes a new pty and points the symlink at it.
"""

from __future__ import annotations

import errno
import logging
import os
import random
import select
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

log = logging.getLogger(__name__)

_READ_SIZE = 4096


class PtyDevice:
    """Base of every simulated UART device; subclasses implement ``on_bytes`` (and ``tick``)."""

    #: Seconds between ``tick`` calls; subclasses that stream set it.
    tick_s: float | None = None

    def __init__(self, link: Path, *, seed: int | None = None) -> None:
        self.link = Path(link)
        self.rng = random.Random(seed)
        self._lock = threading.RLock()
        self._garbage = 0.0
        self._bad_checksum = 0.0
        self._silence = False
        self._master: int | None = None
        self._slave: int | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._thread: threading.Thread | None = None
        self._running = False
        self.frames_sent = 0
        self.frames_corrupted = 0
        self.garbage_bytes_sent = 0
        self.bytes_received = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Open the pty, point the symlink at it and start answering."""
        with self._lock:
            if self._running:
                return self
            self._open_pty()
            self._running = True
        return self

    def stop(self) -> None:
        """Stop answering, close the pty and remove the symlink."""
        with self._lock:
            self._running = False
        self._close_pty()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def unplug(self) -> None:
        """Pull the cable: close the master (the driver gets EIO/EOF) and remove the symlink."""
        self._close_pty()

    def replug(self) -> None:
        """Plug back in: a fresh pty behind the same symlink path."""
        with self._lock:
            if self._master is None and self._running:
                self._open_pty()

    @property
    def plugged(self) -> bool:
        """True while the pty is open."""
        return self._master is not None

    @property
    def slave_path(self) -> str | None:
        """The current pty's slave device path, e.g. /dev/pts/7."""
        return os.ttyname(self._slave) if self._slave is not None else None

    # -- faults (any thread) ---------------------------------------------------------------

    def set_faults(
        self,
        *,
        garbage: float | bool | None = None,
        bad_checksum: float | bool | None = None,
        silence: bool | None = None,
    ) -> None:
        """Change fault modes; rates are probabilities per frame (True = every frame)."""
        with self._lock:
            if garbage is not None:
                self._garbage = float(garbage)
            if bad_checksum is not None:
                self._bad_checksum = float(bad_checksum)
            if silence is not None:
                self._silence = silence

    @property
    def silence(self) -> bool:
        """True while the device neither answers nor streams."""
        with self._lock:
            return self._silence

    # -- what subclasses use ---------------------------------------------------------------

    def on_bytes(self, data: bytes) -> None:
        """Bytes the driver wrote; called on the device thread."""
        raise NotImplementedError

    def tick(self, now: float) -> None:
        """Periodic work (streaming); called on the device thread every ``tick_s``."""

    def corrupt(self, frame: bytes) -> bytes:
        """The frame with a wrong checksum; the default flips bits of the last byte."""
        return frame[:-1] + bytes([frame[-1] ^ 0x5A])

    def garbage_bytes(self) -> bytes:
        """Line noise to put before a frame."""
        return self.rng.randbytes(self.rng.randint(1, 12))

    def send_frame(self, frame: bytes) -> bool:
        """Send one frame through the fault modes; False if silenced or unplugged."""
        with self._lock:
            if self._silence or self._master is None:
                return False
            out = frame
            if self._bad_checksum and self.rng.random() < self._bad_checksum:
                out = self.corrupt(out)
                self.frames_corrupted += 1
            if self._garbage and self.rng.random() < self._garbage:
                noise = self.garbage_bytes()
                self.garbage_bytes_sent += len(noise)
                out = noise + out
            self.write(out)
            self.frames_sent += 1
            return True

    def write(self, data: bytes) -> None:
        """Raw bytes to the driver; dropped when nobody reads (a UART does not wait)."""
        with self._lock:
            if self._master is None:
                return
            try:
                os.write(self._master, data)
            except BlockingIOError:
                log.debug("pty %s full; %d bytes dropped", self.link, len(data))
            except OSError as err:
                log.debug("pty %s write failed: %s", self.link, err)

    # -- internals -------------------------------------------------------------------------

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        # Raw: no echo, no line discipline, every byte as it is (like a UART).
        tty.setraw(slave)
        os.set_blocking(master, False)
        wake_r, wake_w = os.pipe()
        self._master, self._slave, self._wake_r, self._wake_w = master, slave, wake_r, wake_w
        self._point_link(os.ttyname(slave))
        self._thread = threading.Thread(
            target=self._serve, args=(master, wake_r), name=f"sim {self.link.name}", daemon=True
        )
        self._thread.start()

    def _point_link(self, target: str) -> None:
        self.link.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(target)
        os.replace(tmp, self.link)  # atomic: a driver never sees a missing link on replug

    def _close_pty(self) -> None:
        with self._lock:
            thread, wake_w = self._thread, self._wake_w
            self._thread = None
        if thread is not None and wake_w is not None:
            os.write(wake_w, b"x")
            thread.join(timeout=5)
        with self._lock:
            for fd in (self._master, self._slave, self._wake_r, self._wake_w):
                if fd is not None:
                    os.close(fd)
            self._master = self._slave = self._wake_r = self._wake_w = None
            if self.link.is_symlink():
                self.link.unlink()

    def _serve(self, master: int, wake_r: int) -> None:
        next_tick = time.monotonic() + self.tick_s if self.tick_s else None
        while True:
            timeout = None if next_tick is None else max(0.0, next_tick - time.monotonic())
            ready, _, _ = select.select([master, wake_r], [], [], timeout)
            if wake_r in ready:
                return
            if master in ready:
                try:
                    data = os.read(master, _READ_SIZE)
                except BlockingIOError:
                    data = b""
                except OSError as err:
                    # EIO cannot happen while we hold the slave open; anything else ends us.
                    if err.errno != errno.EIO:
                        log.warning("pty %s read failed: %s", self.link, err)
                    return
                if data:
                    self.bytes_received += len(data)
                    self._dispatch(data)
            if next_tick is not None and time.monotonic() >= next_tick:
                try:
                    self.tick(time.monotonic())
                except Exception:  # a simulator bug must not stop the stream silently
                    log.exception("simulator %s failed to tick", self.link)
                assert self.tick_s is not None
                next_tick += self.tick_s
                if next_tick < time.monotonic():  # fell behind: skip, do not burst
                    next_tick = time.monotonic() + self.tick_s

    def _dispatch(self, data: bytes) -> None:
        try:
            self.on_bytes(data)
        except Exception:  # a simulator bug must not kill the line silently
            log.exception("simulator %s failed on %r", self.link, data)


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, step: float = 0.005) -> bool:
    """Poll ``predicate`` until true or ``timeout``; True if it became true (scripts and tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
