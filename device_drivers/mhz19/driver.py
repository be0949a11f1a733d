"""MH-Z19B over a serial port: ask with 0x86 every interval, wait for the 9-byte answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, Self

import serial
import serial_asyncio_fast
from pydantic import Field

from device_drivers.base import DriverStats, Reading, SerialDriverConfig, TransportError
from device_drivers.mhz19 import frames

log = logging.getLogger(__name__)

_CLOSE_TIMEOUT_S = 2.0


class Mhz19Config(SerialDriverConfig):
    """MH-Z19B settings; ``abc`` and ``range_ppm`` are sent once when the port opens."""

    abc: bool | None = Field(
        default=None, description="automatic baseline correction; None leaves it"
    )
    range_ppm: Literal[2000, 5000, 10000] | None = Field(
        default=None, description="detection range"
    )


class Mhz19Driver:
    """An open MH-Z19B: ``async with Mhz19Driver(cfg) as drv: await drv.read()``."""

    def __init__(self, config: Mhz19Config) -> None:
        self.config = config
        self.stats = DriverStats()
        self._decoder = frames.FrameDecoder()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pump_task: asyncio.Task[None] | None = None
        # Items: a good answer, None for a garbled one, or the error that ended the line.
        self._answers: asyncio.Queue[frames.Frame | TransportError | None] | None = None
        self._lost: TransportError | None = None
        self._next_due: float | None = None

    async def __aenter__(self) -> Self:
        port = self.config.port
        try:
            self._reader, self._writer = await serial_asyncio_fast.open_serial_connection(
                url=port, baudrate=self.config.baudrate
            )
        except (serial.SerialException, OSError) as err:
            raise TransportError(f"cannot open {port}: {err}") from err
        self._answers = asyncio.Queue()
        self._pump_task = asyncio.create_task(self._pump(), name=f"mhz19-rx {port}")
        if self.config.abc is not None:
            self._send(frames.encode_abc(self.config.abc))
        if self.config.range_ppm is not None:
            self._send(frames.encode_detection_range(self.config.range_ppm))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
        if self._writer is not None:
            self._writer.close()
            # Closing a port whose pty is gone can fail; the fd is released either way.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._writer.wait_closed(), _CLOSE_TIMEOUT_S)
        self._reader = self._writer = self._pump_task = None

    async def read(self) -> Reading:
        """The next CO2 reading, paced by ``interval_s``; raises TransportError."""
        loop = asyncio.get_running_loop()
        if self._next_due is not None:
            await asyncio.sleep(max(0.0, self._next_due - loop.time()))
        started = loop.time()
        self._next_due = started + self.config.interval_s
        answers = self._queue()
        while not answers.empty():  # a late answer to an earlier question is stale
            self._raise_if_lost(answers.get_nowait())
        deadline = started + self.config.timeout_s
        # A lost or garbled answer is asked again; a silent sensor gets three chances.
        resend_s = self.config.timeout_s / 3
        while True:
            self._send(frames.encode_read_co2())
            wait_until = min(deadline, loop.time() + resend_s)
            while True:
                remaining = wait_until - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(answers.get(), remaining)
                except TimeoutError:
                    break
                self._raise_if_lost(item)
                if item is None:
                    break
                assert isinstance(item, frames.Frame)
                if item.command == frames.CMD_READ_CO2:
                    return Reading(
                        ts=datetime.now(UTC),
                        values={"co2_ppm": float(item.co2_ppm), "temp_c": float(item.temp_c)},
                    )
            if loop.time() >= deadline:
                self.stats.timeouts += 1
                raise TransportError(
                    f"MH-Z19 on {self.config.port} silent for {self.config.timeout_s} s"
                )

    def _queue(self) -> asyncio.Queue[frames.Frame | TransportError | None]:
        if self._answers is None:
            raise TransportError("MH-Z19 driver used outside 'async with'")
        return self._answers

    def _raise_if_lost(self, item: frames.Frame | TransportError | None) -> None:
        if isinstance(item, TransportError):
            # Keep it queued so every later read fails the same way.
            self._queue().put_nowait(item)
            raise item

    def _send(self, packet: bytes) -> None:
        if self._lost is not None:
            raise self._lost
        assert self._writer is not None
        self._writer.write(packet)

    async def _pump(self) -> None:
        """Feed every received byte to the decoder; report answers and the line's end."""
        assert self._reader is not None
        answers = self._queue()
        decoder = self._decoder
        try:
            while True:
                data = await self._reader.read(256)
                if not data:
                    raise TransportError(f"{self.config.port}: end of file (unplugged?)")
                bad_before = decoder.frames_bad
                for frame in decoder.feed(data):
                    answers.put_nowait(frame)
                if decoder.frames_bad != bad_before:
                    log.debug("MH-Z19 %s: bad frame: %s", self.config.port, decoder.last_error)
                    answers.put_nowait(None)
                self.stats.frames_ok = decoder.frames_ok
                self.stats.frames_bad = decoder.frames_bad
                self.stats.bytes_discarded = decoder.bytes_discarded
        except TransportError as err:
            self._lost = err
        except (serial.SerialException, OSError) as err:
            self._lost = TransportError(f"{self.config.port}: {err}")
            self._lost.__cause__ = err
        log.warning("MH-Z19 %s: line lost: %s", self.config.port, self._lost)
        answers.put_nowait(self._lost)
