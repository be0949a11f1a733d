"""The periodic heartbeat: the box's and its devices' health, QoS 0, outside the outbox.

A heartbeat is a sample of the present, not a fact to keep: one lost while offline is worth
nothing later, so it never enters the outbox and is skipped while the link is down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from edge_agent.link import Link
from edge_agent.outbox import Outbox
from edge_agent.settings import EdgeConfig
from protocol import topics
from protocol.messages import DeviceHealth, Heartbeat, now

log = logging.getLogger(__name__)

THERMAL_ZONES = Path("/sys/class/thermal")


def cpu_temperature(root: Path = THERMAL_ZONES) -> float | None:
    """The SoC temperature in °C from the first readable thermal zone, or None."""
    for zone in sorted(root.glob("thermal_zone*")):
        try:
            millis = int((zone / "temp").read_text().strip())
        except (OSError, ValueError):
            continue
        return round(millis / 1000.0, 1)
    return None


def _pct(value: float) -> float:
    return min(100.0, max(0.0, float(value)))


@dataclass(frozen=True, slots=True)
class SystemFigures:
    """The box's own health figures."""

    cpu_pct: float
    mem_pct: float
    disk_pct: float
    temp_c: float | None


def system_figures(disk_path: Path) -> SystemFigures:
    """CPU, memory and disk use in percent, and the CPU temperature (blocking: call in a thread)."""
    path = disk_path if disk_path.exists() else Path("/")
    return SystemFigures(
        # interval=None: use since the previous call, so this never sleeps.
        cpu_pct=_pct(psutil.cpu_percent(interval=None)),
        mem_pct=_pct(psutil.virtual_memory().percent),
        disk_pct=_pct(psutil.disk_usage(str(path)).percent),
        temp_c=cpu_temperature(),
    )


class HeartbeatSender:
    """Publishes a heartbeat every ``heartbeat_s`` while the link is up."""

    def __init__(
        self,
        config: EdgeConfig,
        link: Link,
        outbox: Outbox,
        devices: Callable[[], dict[str, DeviceHealth]],
    ) -> None:
        self._config = config
        self._link = link
        self._outbox = outbox
        self._devices = devices
        self._topic = topics.heartbeat(config.school, config.edge)
        self._started = time.monotonic()
        self.sent = 0

    async def build(self) -> Heartbeat:
        """One heartbeat as of now."""
        figures = await asyncio.to_thread(system_figures, self._config.outbox.path.parent)
        return Heartbeat(
            ts=now(),
            uptime_s=round(time.monotonic() - self._started, 3),
            outbox=self._outbox.backlog,
            outbox_refused=self._outbox.refused,
            devices=self._devices(),
            cpu_pct=figures.cpu_pct,
            mem_pct=figures.mem_pct,
            disk_pct=figures.disk_pct,
            temp_c=figures.temp_c,
        )

    async def run(self) -> None:
        """Send heartbeats until cancelled."""
        psutil.cpu_percent(interval=None)  # the first call only sets the reference point
        while True:
            await asyncio.sleep(self._config.heartbeat_s)
            if not self._link.connected.is_set():
                log.debug("heartbeat skipped: link down")
                continue
            beat = await self.build()
            if await self._link.publish_volatile(self._topic, beat.to_json()):
                self.sent += 1
