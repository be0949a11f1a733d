"""PMS5003 over a serial port: keep the newest streamed frame, hand it out each interval."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, Self

from pydantic import Field

from device_drivers.base import DriverStats, Reading, SerialDriverConfig, TransportError
from device_drivers.pms5003 import frames
from device_drivers.serial_link import SerialLink


class Pms5003Config(SerialDriverConfig):
    """PMS5003 settings: active mode (the sensor streams, the default) or passive (polled)."""

    mode: Literal["active", "passive"] = Field(
        default="active", description="active: sensor streams ~1 frame/s; passive: asked with 0xE2"
    )
    wake_on_open: bool = Field(default=True, description="send wake-up and the mode when opening")


class Pms5003Driver:
    """An open PMS5003: ``async with Pms5003Driver(cfg) as drv: await drv.read()``."""

    def __init__(self, config: Pms5003Config) -> None:
        self.config = config
        self.stats = DriverStats()
        self._decoder = frames.FrameDecoder()
        self._link: SerialLink[frames.Frame] | None = None
        self._arrived: asyncio.Event | None = None
        # Only the newest frame is kept: a reader that fell behind gets fresh air, not history.
        self._latest: tuple[frames.DataFrame, datetime] | None = None
        self._next_due: float | None = None

    async def __aenter__(self) -> Self:
        self._arrived = asyncio.Event()
        self._link = await SerialLink.open(
            self.config, self._decoder, self.stats, "PMS5003", self._receive
        )
        if self.config.wake_on_open:
            self._send(frames.encode_sleep(False))
            self._send(frames.encode_mode(self.config.mode == "active"))
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
        """The newest particulate reading, paced by ``interval_s``; raises TransportError."""
        link, arrived = self._link, self._arrived
        if link is None or arrived is None:
            raise TransportError("PMS5003 driver used outside 'async with'")
        loop = asyncio.get_running_loop()
        if self._next_due is not None:
            await asyncio.sleep(max(0.0, self._next_due - loop.time()))
        started = loop.time()
        self._next_due = started + self.config.interval_s
        deadline = started + self.config.timeout_s
        passive = self.config.mode == "passive"
        if passive:
            self._latest = None  # an answer must follow this question
        # In passive mode a lost question or answer is asked again, three times in all.
        resend_s = self.config.timeout_s / 3 if passive else self.config.timeout_s
        while True:
            if link.lost is not None:
                raise link.lost
            if passive:
                self._send(frames.encode_read_passive())
            wait_until = min(deadline, loop.time() + resend_s)
            while self._latest is None and link.lost is None:
                arrived.clear()
                remaining = wait_until - loop.time()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(arrived.wait(), remaining)
            if link.lost is not None:
                raise link.lost
            if self._latest is not None:
                frame, ts = self._latest
                self._latest = None
                pm1, pm25, pm10 = frame.pm_atm
                return Reading(
                    ts=ts,
                    values={
                        "pm1_ugm3": float(pm1),
                        "pm25_ugm3": float(pm25),
                        "pm10_ugm3": float(pm10),
                    },
                )
            if loop.time() >= deadline:
                self.stats.timeouts += 1
                raise TransportError(
                    f"PMS5003 on {self.config.port} silent for {self.config.timeout_s} s"
                )

    def _send(self, packet: bytes) -> None:
        if self._link is None:
            raise TransportError("PMS5003 driver used outside 'async with'")
        self._link.send(packet)

    def _receive(self, item: frames.Frame | TransportError | None) -> None:
        """Keep the newest data frame; wake ``read`` for it and for the line's end."""
        if isinstance(item, frames.DataFrame):
            self._latest = (item, datetime.now(UTC))
        elif not isinstance(item, TransportError):
            return  # acknowledgements and garbled frames change nothing
        if self._arrived is not None:
            self._arrived.set()
