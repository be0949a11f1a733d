"""PN532 over HSU: wake it, configure it, then poll InListPassiveTarget; taps come out.

"Removed" is seen by polling: a card that no InListPassiveTarget answer reported for
``rearm_s`` has left. The PN532 answers every poll, so a chip that does not answer for
``timeout_s`` (ACK nor answer) is lost: TransportError, like an unplugged line.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from pydantic import Field

from device_drivers.base import (
    CardRead,
    DriverError,
    DriverStats,
    FrameError,
    SerialDriverConfig,
    TapDebouncer,
    TransportError,
)
from device_drivers.pn532 import frames
from device_drivers.serial_link import SerialLink

# A command whose ACK or answer was lost is sent again after this long (capped by timeout_s).
_ATTEMPT_S = 0.3

_Queued = frames.Item | TransportError | None


class Pn532Config(SerialDriverConfig):
    """PN532 settings (HSU, 115200 8N1; ``interval_s`` is not used: see ``poll_s``)."""

    baudrate: int = 115200
    poll_s: float = Field(default=0.1, gt=0, description="seconds between InListPassiveTarget")
    rearm_s: float = Field(
        default=1.0, gt=0, description="a card missing from the polls this long has left"
    )


class Pn532Driver:
    """An open PN532: ``async with Pn532Driver(cfg) as rd: await rd.next_card()``."""

    def __init__(self, config: Pn532Config) -> None:
        self.config = config
        self.stats = DriverStats()
        self.firmware: frames.FirmwareVersion | None = None
        self._decoder = frames.FrameDecoder()
        self._debounce = TapDebouncer(config.rearm_s)
        self._link: SerialLink[frames.Item] | None = None
        self._items: asyncio.Queue[_Queued] | None = None
        self._pending: deque[CardRead] = deque()
        self._next_poll: float | None = None

    async def __aenter__(self) -> Self:
        self._items = asyncio.Queue()
        self._link = await SerialLink.open(
            self.config, self._decoder, self.stats, "PN532", self._items.put_nowait
        )
        try:
            # §7.2.11: in HSU the chip sleeps until a 0x55 and a long preamble wake it,
            # and SAMConfiguration must be the first command after waking.
            self._link.send(frames.WAKEUP)
            await self._exchange(frames.encode_sam_configuration())
            answer = await self._exchange(frames.encode_get_firmware_version())
            self.firmware = frames.parse_firmware_version(answer)
            await self._exchange(frames.encode_max_retries())
        except BaseException:
            await self._link.close()
            self._link = None
            raise
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
        """The next new card presentation, polling every ``poll_s``; raises TransportError."""
        loop = asyncio.get_running_loop()
        poll = frames.encode_in_list_passive_target()
        while not self._pending:
            if self._next_poll is not None:
                await asyncio.sleep(max(0.0, self._next_poll - loop.time()))
            self._next_poll = loop.time() + self.config.poll_s
            answer = await self._exchange(poll)
            try:
                targets = frames.parse_in_list_passive_target(answer)
            except FrameError:
                self._decoder.frames_bad += 1  # the link copies the decoder's count to stats
                self.stats.frames_bad = self._decoder.frames_bad
                continue
            seen_at = loop.time()
            for target in targets:
                if self._debounce.seen(target.card, seen_at):
                    self._pending.append(CardRead(ts=datetime.now(UTC), card=target.card))
        return self._pending.popleft()

    async def _exchange(self, packet: bytes) -> frames.Frame:
        """Send a command and return its answer (§6.2.2: command, ACK, answer).

        A garbled answer after the ACK is asked again with a NACK (§6.2.1.3); a lost ACK and
        answer resend the command; nothing for ``timeout_s`` raises TransportError.
        """
        link, items = self._link, self._items
        if link is None or items is None:
            raise TransportError("PN532 driver used outside 'async with'")
        loop = asyncio.get_running_loop()
        want = packet[6] + 1  # the answer code follows the command code
        deadline = loop.time() + self.config.timeout_s
        while True:
            while not items.empty():  # answers to an earlier attempt are stale
                self._raise_if_lost(items.get_nowait())
            link.send(packet)
            acked = False
            bad_before = self._decoder.frames_bad
            attempt_end = min(deadline, loop.time() + min(_ATTEMPT_S, self.config.timeout_s / 3))
            while (remaining := attempt_end - loop.time()) > 0:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                # that arrives as it times out, and a cancelled poll would then run forever.
                try:
                    async with asyncio.timeout(remaining):
                        item = await items.get()
                except TimeoutError:
                    break
                self._raise_if_lost(item)
                if isinstance(item, frames.Ack):
                    acked = True
                elif isinstance(item, frames.Nack):
                    link.send(packet)  # the chip asks for our frame again
                elif item is None:
                    # After the ACK, or after two bad frames (ACK and answer), the answer was
                    # garbled; a lone bad frame before the ACK may be the ACK itself.
                    if acked or self._decoder.frames_bad - bad_before >= 2:
                        link.send(frames.NACK)
                        acked = True  # what comes next is the answer again
                elif isinstance(item, frames.ErrorFrame):
                    raise DriverError(f"PN532 on {self.config.port} refused {packet.hex(' ')}")
                elif isinstance(item, frames.Frame) and item.tfi == frames.TFI_PN532:
                    if item.code == want:
                        return item
            if loop.time() >= deadline:
                self.stats.timeouts += 1
                raise TransportError(
                    f"PN532 on {self.config.port} silent for {self.config.timeout_s} s"
                )

    def _raise_if_lost(self, item: _Queued) -> None:
        if isinstance(item, TransportError):
            assert self._items is not None
            self._items.put_nowait(item)  # every later call fails the same way
            raise item
