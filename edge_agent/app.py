"""The edge agent process: outbox, link, heartbeat and device supervisor in one named TaskGroup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from types import TracebackType
from typing import Self

from edge_agent.heartbeat import HeartbeatSender
from edge_agent.link import Link
from edge_agent.outbox import Outbox
from edge_agent.settings import EdgeConfig, load_config
from edge_agent.supervisor import Supervisor, device_infos

log = logging.getLogger(__name__)

#: How long a clean stop lets the link say offline before it is cut.
STOP_GRACE_S = 10.0


class EdgeAgent:
    """``async with EdgeAgent(config) as agent:`` runs everything until the block ends."""

    def __init__(self, config: EdgeConfig) -> None:
        self.config = config
        self.outbox = Outbox(
            config.outbox.path,
            telemetry_budget_bytes=int(config.outbox.telemetry_budget_mb * 1024 * 1024),
            telemetry_max_rows=config.outbox.telemetry_max_rows,
        )
        self.supervisor = Supervisor(config, self.outbox)
        self.link = Link(config, self.outbox, device_infos(config))
        self.heartbeat = HeartbeatSender(config, self.link, self.outbox, self.supervisor.snapshot)
        self._tg: asyncio.TaskGroup | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Self:
        await self.outbox.__aenter__()
        tg = asyncio.TaskGroup()
        await tg.__aenter__()
        self._tg = tg
        self._tasks = [
            tg.create_task(self.link.run(), name="edge-link"),
            tg.create_task(self.heartbeat.run(), name="edge-heartbeat"),
            tg.create_task(self.supervisor.run(), name="edge-supervisor"),
        ]
        log.info(
            "edge %s/%s started with %d devices",
            self.config.school,
            self.config.edge,
            len(self.config.devices),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._tg is not None
        link_task, *others = self._tasks
        # Stop producing first, then let the link say offline; the outbox keeps the rest.
        for task in others:
            task.cancel()
        self.link.stop()
        try:
            async with asyncio.timeout(STOP_GRACE_S):
                await asyncio.wait([link_task])
        except TimeoutError:
            log.warning("link did not stop in %.0f s; cutting it", STOP_GRACE_S)
            link_task.cancel()
        try:
            await self._tg.__aexit__(exc_type, exc, tb)
        finally:
            self._tg = None
            await self.outbox.__aexit__(None, None, None)
            log.info("edge %s/%s stopped", self.config.school, self.config.edge)


def configure_logging(level: str = "INFO") -> None:
    """English log lines to stderr with time, level and source."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


async def run_edge(config_path: str | Path) -> None:
    """Load the config and run the agent until SIGTERM or SIGINT."""
    config = load_config(config_path)
    configure_logging(config.log_level)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with EdgeAgent(config):
            await stop.wait()
            log.info("stop signal received")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(sig)
