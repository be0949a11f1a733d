"""PMS5003 over a serial port: keep the newest streamed frame, hand it out each interval."""

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
from device_drivers.pms5003 import frames

log = logging.getLogger(__name__)

_CLOSE_TIMEOUT_S = 2.0


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
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._arrived: asyncio.Event | None = None
        # Only the newest frame is kept: a reader that fell behind gets fresh air, not history.
        self._latest: tuple[frames.DataFrame, datetime] | None = None
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
        self._arrived = asyncio.Event()
        self._pump_task = asyncio.create_task(self._pump(), name=f"pms5003-rx {port}")
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
        """The newest particulate reading, paced by ``interval_s``; raises TransportError."""
        if self._arrived is None:
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
            if self._lost is not None:
                raise self._lost
            if passive:
                self._send(frames.encode_read_passive())
            wait_until = min(deadline, loop.time() + resend_s)
            while self._latest is None and self._lost is None:
                self._arrived.clear()
                remaining = wait_until - loop.time()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), remaining)
            if self._lost is not None:
                raise self._lost
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
        if self._lost is not None:
            raise self._lost
        assert self._writer is not None
        self._writer.write(packet)

    async def _pump(self) -> None:
        """Feed every received byte to the decoder; keep the newest data frame."""
        assert self._reader is not None and self._arrived is not None
        decoder = self._decoder
        try:
            while True:
                data = await self._reader.read(1024)
                if not data:
                    raise TransportError(f"{self.config.port}: end of file (unplugged?)")
                bad_before = decoder.frames_bad
                for frame in decoder.feed(data):
                    if isinstance(frame, frames.DataFrame):
                        self._latest = (frame, datetime.now(UTC))
                        self._arrived.set()
                if decoder.frames_bad != bad_before:
                    log.debug("PMS5003 %s: bad frame: %s", self.config.port, decoder.last_error)
                self.stats.frames_ok = decoder.frames_ok
                self.stats.frames_bad = decoder.frames_bad
                self.stats.bytes_discarded = decoder.bytes_discarded
        except TransportError as err:
            self._lost = err
        except (serial.SerialException, OSError) as err:
            self._lost = TransportError(f"{self.config.port}: {err}")
            self._lost.__cause__ = err
        log.warning("PMS5003 %s: line lost: %s", self.config.port, self._lost)
        self._arrived.set()
