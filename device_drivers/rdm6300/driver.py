"""RDM6300 over a serial port: the reader streams frames while a card is on it; taps come out.

"Removed" is seen as silence: the reader repeats a card's frame about every 65 ms while the
card is in the field and sends nothing without one, so a card not heard for ``rearm_s`` has
left. For the same reason a silent reader cannot be told from an empty field: only a lost
line (unplug, EOF) raises TransportError.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from pydantic import Field

from device_drivers.base import (
    CardRead,
    DriverStats,
    SerialDriverConfig,
    TapDebouncer,
    TransportError,
)
from device_drivers.rdm6300 import frames
from device_drivers.serial_link import SerialLink


class Rdm6300Config(SerialDriverConfig):
    """RDM6300 settings (9600 8N1; ``interval_s`` and ``timeout_s`` are not used)."""

    baudrate: int = 9600
    rearm_s: float = Field(
        default=1.0, gt=0, description="a card not heard for this long has left the reader"
    )


class Rdm6300Driver:
    """An open RDM6300: ``async with Rdm6300Driver(cfg) as rd: await rd.next_card()``."""

    def __init__(self, config: Rdm6300Config) -> None:
        self.config = config
        self.stats = DriverStats()
        self._decoder = frames.FrameDecoder()
        self._debounce = TapDebouncer(config.rearm_s)
        self._link: SerialLink[frames.Frame] | None = None
        # New presentations in order, then the error that ended the line.
        self._taps: asyncio.Queue[CardRead | TransportError] | None = None

    async def __aenter__(self) -> Self:
        self._taps = asyncio.Queue()
        self._link = await SerialLink.open(
            self.config, self._decoder, self.stats, "RDM6300", self._receive
        )
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

    async def next_card(self) -> CardRead:
        """The next new card presentation; raises TransportError when the line is lost."""
        taps = self._taps
        if taps is None or (self._link is None and taps.empty()):
            raise TransportError("RDM6300 driver used outside 'async with'")
        item = await taps.get()
        if isinstance(item, TransportError):
            taps.put_nowait(item)  # every later call fails the same way
            raise item
        return item

    def _receive(self, item: frames.Frame | TransportError | None) -> None:
        """Called by the link for each frame: debounce good ones, pass the line's end on."""
        if self._taps is None:
            return
        if isinstance(item, TransportError):
            self._taps.put_nowait(item)
        elif item is not None:
            card = item.card
            if self._debounce.seen(card, asyncio.get_running_loop().time()):
                self._taps.put_nowait(CardRead(ts=datetime.now(UTC), card=card))
