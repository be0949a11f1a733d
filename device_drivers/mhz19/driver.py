"""MH-Z19B over a serial port: ask with 0x86 every interval, wait for the 9-byte answer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, Self

from pydantic import Field

from device_drivers.base import DriverStats, Reading, SerialDriverConfig, TransportError
from device_drivers.mhz19 import frames
from device_drivers.serial_link import SerialLink


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
        self._link: SerialLink[frames.Frame] | None = None
        # Items: a good answer, None for a garbled one, or the error that ended the line.
        self._answers: asyncio.Queue[frames.Frame | TransportError | None] | None = None
        self._next_due: float | None = None

    async def __aenter__(self) -> Self:
        answers: asyncio.Queue[frames.Frame | TransportError | None] = asyncio.Queue()
        self._link = await SerialLink.open(
            self.config, self._decoder, self.stats, "MH-Z19", answers.put_nowait
        )
        self._answers = answers
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
        if self._link is not None:
            await self._link.close()
            self._link = None

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
        if self._link is None:
            raise TransportError("MH-Z19 driver used outside 'async with'")
        self._link.send(packet)
