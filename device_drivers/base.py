"""What every device driver is: its errors, its reading, its declared spec.

A driver family is a package ``device_drivers/{family}/`` with a pure ``frames.py`` (bytes in,
frames out; no asyncio, serial or MQTT), an async ``driver.py`` that is a thin transport, and a
``SPEC`` in its ``__init__.py``, registered by one line in ``device_drivers/registry.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field


class DriverError(Exception):
    """Anything that went wrong talking to a device."""


class FrameError(DriverError):
    """Bytes that do not form a valid frame (bad header, length or checksum)."""


class TransportError(DriverError):
    """The line itself failed: port missing, unplugged, or the device fell silent."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One set of values read from a device at ``ts``; names carry their unit."""

    ts: datetime
    values: dict[str, float]


@dataclass(slots=True)
class DriverStats:
    """Counters a driver keeps for the edge's heartbeat and the technicians' console."""

    frames_ok: int = 0
    frames_bad: int = 0
    bytes_discarded: int = 0
    timeouts: int = 0


class SerialDriverConfig(BaseModel):
    """Settings common to UART devices; families extend it with their own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    port: str = Field(description="serial device path, e.g. /dev/ttyAMA0 or /dev/serial/by-id/...")
    baudrate: int = 9600
    interval_s: float = Field(default=10.0, gt=0, description="seconds between readings")
    timeout_s: float = Field(default=3.0, gt=0, description="silence after which the device is lost")


class Driver(Protocol):
    """An open connection to one device: ``async with driver: await driver.read()``."""

    stats: DriverStats

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def read(self) -> Reading:
        """The next reading, paced by the driver's ``interval_s``; raises DriverError."""
        ...


@dataclass(frozen=True, slots=True)
class CardRead:
    """One new card presentation at ``ts``; ``card`` in the wire form ``em:0F00A1B2C3``."""

    ts: datetime
    card: str


class CardReader(Protocol):
    """An open card reader: ``async with reader: card = await reader.next_card()``."""

    stats: DriverStats

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def next_card(self) -> CardRead:
        """The next new presentation (debounced); raises TransportError when the line fails."""
        ...


class TapDebouncer:
    """Turns repeated sightings of cards into presentations (pure; the caller gives the time).

    A sighting starts a presentation when the same card was not seen in the ``rearm_s``
    seconds before it: a card held on the reader gives one tap, the same card again gives a
    new one only after it was away for ``rearm_s``, and a different card gives one at once.
    """

    _PRUNE_AT = 64

    def __init__(self, rearm_s: float) -> None:
        self.rearm_s = rearm_s
        self._last: dict[str, float] = {}

    def seen(self, card: str, now: float) -> bool:
        """Note ``card`` seen at ``now`` (monotonic seconds); True if it starts a presentation."""
        last = self._last.get(card)
        self._last[card] = now
        if len(self._last) > self._PRUNE_AT:
            # Forgetting a card away for rearm_s changes nothing: it would re-arm anyway.
            self._last = {c: t for c, t in self._last.items() if now - t < self.rearm_s}
            self._last[card] = now
        return last is None or now - last >= self.rearm_s


@dataclass(frozen=True, slots=True)
class MeasurementSpec:
    """One value a device exposes: its wire name, unit and plausible range."""

    name: str
    unit: str
    minimum: float | None = None
    maximum: float | None = None
    value_fn: Callable[[Reading], float | None] = field(default=lambda r: None, compare=False)


@dataclass(frozen=True, slots=True)
class DriverSpec:
    """A device family as data: how to configure it, how to open it, what it measures."""

    name: str
    kind: str
    model: str
    config_model: type[BaseModel]
    # A Driver for sensors; a CardReader when kind == "card-reader" (typed Any for both).
    driver_factory: Callable[[Any], Any]
    measurements: tuple[MeasurementSpec, ...] = ()
