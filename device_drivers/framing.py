"""A resyncing frame decoder for UART protocols that start each frame with fixed bytes (pure)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from device_drivers.base import FrameError

F = TypeVar("F")


class ResyncDecoder(Generic[F]):
    """Turns a byte stream into frames, keeping partial input and resyncing after garbage.

    A family supplies its start bytes, how many bytes tell a frame's size, a ``frame_len``
    that gives that size (None when the header cannot start a frame) and its ``decode``.
    """

    def __init__(
        self,
        start: bytes,
        header_len: int,
        frame_len: Callable[[bytes], int | None],
        decode: Callable[[bytes], F],
    ) -> None:
        self._start = start
        self._header_len = header_len
        self._frame_len = frame_len
        self._decode = decode
        self._buf = bytearray()
        self.frames_ok = 0
        self.frames_bad = 0
        self.bytes_discarded = 0
        self.last_error: FrameError | None = None

    def feed(self, data: bytes) -> list[F]:
        """Add bytes; return every complete good frame. Never raises on bad input."""
        buf = self._buf
        buf.extend(data)
        out: list[F] = []
        while buf:
            start = buf.find(self._start)
            if start < 0:
                self._discard(len(buf) - self._partial_start())
                break
            if start:
                self._discard(start)
            if len(buf) < self._header_len:
                break
            size = self._frame_len(bytes(buf[: self._header_len]))
            if size is None:
                self._discard(1)
                continue
            if len(buf) < size:
                break
            try:
                frame = self._decode(bytes(buf[:size]))
            except FrameError as err:
                # Drop only the start byte: a real frame may begin inside the bad one.
                self.last_error = err
                self.frames_bad += 1
                self._discard(1)
                continue
            del buf[:size]
            self.frames_ok += 1
            out.append(frame)
        return out

    def _partial_start(self) -> int:
        """How many trailing bytes may be the first part of the next start marker."""
        for n in range(len(self._start) - 1, 0, -1):
            if self._buf.endswith(self._start[:n]):
                return n
        return 0

    def _discard(self, n: int) -> None:
        del self._buf[:n]
        self.bytes_discarded += n
