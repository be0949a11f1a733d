"""Device supervision: one task per device, readings into the outbox, failures into health.

A device that fails (``DriverError``: unplugged, silent, garbled) is marked not-ok, its error
counted and logged, and it is reopened after a capped exponential backoff with jitter; a good
reading resets the backoff. Errors other than ``DriverError`` are bugs and end the agent, so a
supervisor (systemd) restarts it and the fault is seen, not hidden.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from device_drivers.base import DriverError, DriverStats, Reading
from edge_agent.backoff import Backoff
from edge_agent.outbox import Kind, Outbox
from edge_agent.settings import DeviceConfig, EdgeConfig
from protocol import topics
from protocol.messages import DeviceHealth, DeviceInfo, Telemetry

log = logging.getLogger(__name__)

#: Telemetry goes at QoS 1 so that the no-loss guarantee holds for it too (until shed).
TELEMETRY_QOS = 1


@dataclass(slots=True)
class Health:
    """What the heartbeat says about one device."""

    ok: bool = False
    errors: int = 0
    last_ts: datetime | None = None
    readings: int = 0
    last_error: str | None = None
    #: Frames refused (bad checksum, garbage) by closed drivers, and the open driver's stats.
    bad_frames_closed: int = 0
    driver_stats: DriverStats | None = None

    @property
    def bad_frames(self) -> int:
        """Frames refused since the agent started, over every driver instance."""
        open_now = self.driver_stats.frames_bad if self.driver_stats is not None else 0
        return self.bad_frames_closed + open_now

    def close_driver(self) -> None:
        """Fold the closing driver's counts into the totals."""
        if self.driver_stats is not None:
            self.bad_frames_closed += self.driver_stats.frames_bad
            self.driver_stats = None

    def snapshot(self) -> DeviceHealth:
        """The wire form of this health; line noise counts as errors for the technician."""
        return DeviceHealth(ok=self.ok, errors=self.errors + self.bad_frames, last_ts=self.last_ts)


def device_infos(config: EdgeConfig) -> list[DeviceInfo]:
    """The devices of ``config`` as the birth message lists them."""
    return [
        DeviceInfo(id=d.id, kind=d.spec.kind, model=d.spec.model, room=d.room or config.room)
        for d in config.devices
    ]


class Supervisor:
    """Runs every configured device; ``await supervisor.run()`` until cancelled."""

    def __init__(self, config: EdgeConfig, outbox: Outbox) -> None:
        self._config = config
        self._outbox = outbox
        self._retry = (config.device_retry_min_s, config.device_retry_max_s)
        self.health: dict[str, Health] = {d.id: Health() for d in config.devices}

    def snapshot(self) -> dict[str, DeviceHealth]:
        """Every device's health for the heartbeat."""
        return {name: h.snapshot() for name, h in self.health.items()}

    async def run(self) -> None:
        """Run one task per sensor until cancelled (card readers run in ``cards.CardFlow``)."""
        async with asyncio.TaskGroup() as tg:
            for device in self._config.devices:
                if device.is_card_reader:
                    continue
                tg.create_task(self._run_device(device), name=f"device-{device.id}")

    async def _run_device(self, device: DeviceConfig) -> None:
        health = self.health[device.id]
        backoff = Backoff(*self._retry)
        topic = topics.telemetry(self._config.school, self._config.edge, device.id)
        spec = device.spec
        while True:
            try:
                driver = spec.driver_factory(device.driver_config)
                async with driver:
                    health.driver_stats = driver.stats
                    log.info("device %s (%s) opened", device.id, spec.name)
                    try:
                        while True:
                            reading = await driver.read()
                            if await self._emit(device.id, topic, reading, health):
                                health.ok, health.last_error = True, None
                                backoff.reset()
                    finally:
                        health.close_driver()
            except DriverError as error:
                health.ok = False
                health.errors += 1
                health.last_error = f"{type(error).__name__}: {error}"
                delay = backoff.next_delay()
                log.warning(
                    "device %s failed (%s); retrying in %.1f s", device.id, health.last_error, delay
                )
                await asyncio.sleep(delay)

    async def _emit(self, device_id: str, topic: str, reading: Reading, health: Health) -> bool:
        """Put one reading in the outbox; False (counted, logged) when it cannot be sent."""
        values = {k: float(v) for k, v in reading.values.items() if math.isfinite(v)}
        if len(values) != len(reading.values):
            health.errors += 1
            log.warning(
                "device %s gave non-finite values %s; sent the rest",
                device_id,
                sorted(set(reading.values) - set(values)),
            )
        if not values:
            log.info("device %s gave a reading with no values; nothing sent", device_id)
            return False
        ts = reading.ts if reading.ts.tzinfo is not None else reading.ts.astimezone()

        def build(seq: int) -> bytes:
            return Telemetry(id=device_id, ts=ts, seq=seq, values=values).to_json()

        try:
            await self._outbox.put(topic, build, TELEMETRY_QOS, Kind.TELEMETRY)
        except ValidationError as error:
            # A driver that names a value against the contract is a bug worth seeing, but the
            # other devices and readings must go on.
            health.errors += 1
            log.error("device %s reading refused by the contract: %s", device_id, error)
            return False
        health.readings += 1
        health.last_ts = ts
        return True
