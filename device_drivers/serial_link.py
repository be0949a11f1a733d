"""An open UART whose received bytes a background task turns into frames for a driver."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

import serial
import serial_asyncio_fast

from device_drivers.base import DriverStats, SerialDriverConfig, TransportError
from device_drivers.framing import ResyncDecoder

log = logging.getLogger(__name__)

F = TypeVar("F")

_CLOSE_TIMEOUT_S = 2.0
_READ_SIZE = 1024


class SerialLink(Generic[F]):
    """A port opened with pyserial-asyncio-fast, its bytes pumped through a frame decoder.

    ``deliver`` is handed each good frame, None after received bytes that held a bad frame,
    and, last of all, the TransportError that ended the line (also kept in ``lost``).
    """

    def __init__(
        self,
        port: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        decoder: ResyncDecoder[F],
        stats: DriverStats,
        label: str,
        deliver: Callable[[F | TransportError | None], None],
    ) -> None:
        self.port = port
        self.label = label
        self.lost: TransportError | None = None
        self._reader = reader
        self._writer = writer
        self._decoder = decoder
        self._stats = stats
        self._deliver = deliver
        self._pump_task = asyncio.create_task(self._pump(), name=f"{label} rx {port}")

    @classmethod
    async def open(
        cls,
        config: SerialDriverConfig,
        decoder: ResyncDecoder[F],
        stats: DriverStats,
        label: str,
        deliver: Callable[[F | TransportError | None], None],
    ) -> SerialLink[F]:
        """Open ``config.port`` and start pumping; raises TransportError if it cannot be opened."""
        port = config.port
        try:
            reader, writer = await serial_asyncio_fast.open_serial_connection(
                url=port, baudrate=config.baudrate
            )
        except (serial.SerialException, OSError) as err:
            raise TransportError(f"cannot open {port}: {err}") from err
        return cls(port, reader, writer, decoder, stats, label, deliver)

    def send(self, packet: bytes) -> None:
        """Queue ``packet`` for the device; raises the TransportError that ended the line."""
        if self.lost is not None:
            raise self.lost
        self._writer.write(packet)

    async def close(self) -> None:
        """Stop the pump and release the port."""
        self._pump_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump_task
        self._writer.close()
        # Closing a port whose pty is gone can fail; the fd is released either way.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), _CLOSE_TIMEOUT_S)

    async def _pump(self) -> None:
        """Feed every received byte to the decoder; deliver frames and the line's end."""
        decoder = self._decoder
        try:
            while True:
                data = await self._reader.read(_READ_SIZE)
                if not data:
                    raise TransportError(f"{self.port}: end of file (unplugged?)")
                bad_before = decoder.frames_bad
                for frame in decoder.feed(data):
                    self._deliver(frame)
                if decoder.frames_bad != bad_before:
                    log.debug("%s %s: bad frame: %s", self.label, self.port, decoder.last_error)
                    self._deliver(None)
                self._stats.frames_ok = decoder.frames_ok
                self._stats.frames_bad = decoder.frames_bad
                self._stats.bytes_discarded = decoder.bytes_discarded
        except TransportError as err:
            self.lost = err
        except (serial.SerialException, OSError) as err:
            self.lost = TransportError(f"{self.port}: {err}")
            self.lost.__cause__ = err
        log.warning("%s %s: line lost: %s", self.label, self.port, self.lost)
        self._deliver(self.lost)
