"""The edge agent process: outbox, link, heartbeat and device supervisor in one named TaskGroup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from edge_agent.answers import AnswerBoard
from edge_agent.cards import CardFlow, Till
from edge_agent.commands import CommandDesk, board_power_handler, reboot_handler
from edge_agent.heartbeat import HeartbeatSender
from edge_agent.link import Link
from edge_agent.localdb import LocalDb, state_path
from edge_agent.outbox import Kind, Outbox
from edge_agent.screen import ScreenServer
from edge_agent.screen.app import create_screen_app
from edge_agent.settings import EdgeConfig, load_config
from edge_agent.snapshots import Snapshots
from edge_agent.supervisor import Supervisor, device_infos
from protocol.codes import Code
from protocol.messages import Command

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
        #: The box's local state: command acks always; snapshots and offline sales for cards.
        self.state = LocalDb(state_path(config.outbox.path))
        self.link = Link(config, self.outbox, device_infos(config), CommandDesk(self.state))
        self.link.on_command("reboot", reboot_handler(config.reboot_command, self.request_exit))
        # No driver family in device_drivers/ can switch a board's power yet: none to offer.
        self.link.on_command("board.power", board_power_handler(lambda: {}))
        self.heartbeat = HeartbeatSender(config, self.link, self.outbox, self.supervisor.snapshot)
        self.board = AnswerBoard()
        #: Set when the agent should end by itself (a ``reboot`` that restarts the agent).
        self.finished = asyncio.Event()
        self.exit_code = 0
        # Card readers bring the snapshots, the card flow and the screen.
        self.snapshots: Snapshots | None = None
        self.cards: CardFlow | None = None
        self.screen: ScreenServer | None = None
        if config.card_readers:
            assert config.hub is not None  # checked at load
            self.snapshots = Snapshots(
                config.hub, config.school, self.state, config.zone,
                lambda: self.outbox.pending_ids(Kind.REQUEST),
            )
            self.cards = CardFlow(config, self.outbox, self.link, self.snapshots, self.state,
                                  self.board, self.supervisor.health)
            self.link.on_command("sync", self._sync)
        self._tg: asyncio.TaskGroup | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._screen_task: asyncio.Task[None] | None = None

    @property
    def tills(self) -> dict[str, Till]:
        """The tills of this box by device id (``set_sale`` gives each its next sale)."""
        return self.cards.tills if self.cards is not None else {}

    def status(self) -> dict[str, Any]:
        """What the screen's ``/api/status`` shows: link, outbox, snapshots and devices."""
        return {
            "school": self.config.school,
            "edge": self.config.edge,
            "online": self.link.connected.is_set(),
            "outbox": self.outbox.backlog,
            "snapshots": self.snapshots.status() if self.snapshots is not None else None,
            "devices": {k: v.snapshot().model_dump(mode="json")
                        for k, v in self.supervisor.health.items()},
            "late_answers": self.cards.late_answers if self.cards is not None else 0,
        }

    def request_exit(self, code: int) -> None:
        """End the agent (as a stop signal does) and have the process exit with ``code``."""
        self.exit_code = code
        self.finished.set()

    async def _sync(self, command: Command) -> tuple[Code, dict[str, Any]]:
        self.outbox.changed.set()
        assert self.snapshots is not None
        self.snapshots.request_sync()
        log.info("sync requested by command %s: snapshots refresh now", command.id)
        return Code.CMD_OK, {"outbox": self.outbox.backlog, "snapshots": self.snapshots.status()}

    async def _open_cards(self) -> None:
        assert self.snapshots is not None and self.cards is not None
        await self.snapshots.load()
        if self.config.screen.enabled:
            app = create_screen_app(self.cards, self.board, self.config.screen.lang,
                                    self.status)
            self.screen = ScreenServer(app, self.config.screen)

    async def __aenter__(self) -> Self:
        await self.outbox.__aenter__()
        try:
            await self.state.__aenter__()
            try:
                if self.cards is not None:
                    await self._open_cards()
            except BaseException:
                await self.state.__aexit__(None, None, None)
                raise
        except BaseException:
            await self.outbox.__aexit__(None, None, None)
            raise
        tg = asyncio.TaskGroup()
        await tg.__aenter__()
        self._tg = tg
        self._tasks = [
            tg.create_task(self.link.run(), name="edge-link"),
            tg.create_task(self.heartbeat.run(), name="edge-heartbeat"),
            tg.create_task(self.supervisor.run(), name="edge-supervisor"),
        ]
        if self.cards is not None and self.snapshots is not None:
            self._tasks += [
                tg.create_task(self.snapshots.run(), name="edge-snapshots"),
                tg.create_task(self.cards.run(), name="edge-cards"),
            ]
        if self.screen is not None:
            self._screen_task = tg.create_task(self.screen.run(), name="edge-screen")
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
        if self.screen is not None and self._screen_task is not None:
            # Live pages are ended first, so the server can finish without waiting on them.
            self.board.close()
            self.screen.stop()
            await asyncio.wait([self._screen_task], timeout=STOP_GRACE_S / 2)
            others.append(self._screen_task)
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
            await self.state.__aexit__(None, None, None)
            await self.outbox.__aexit__(None, None, None)
            log.info("edge %s/%s stopped", self.config.school, self.config.edge)


def configure_logging(level: str = "INFO") -> None:
    """English log lines to stderr with time, level and source."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


async def run_edge(config_path: str | Path) -> int:
    """Load the config and run the agent until SIGTERM or SIGINT (exit status 0), or until it
    ends itself (a ``reboot`` that restarts the agent); return the process's exit status."""
    config = load_config(config_path)
    configure_logging(config.log_level)
    agent = EdgeAgent(config)

    def on_signal() -> None:
        log.info("stop signal received")
        agent.finished.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        async with agent:
            await agent.finished.wait()
        return agent.exit_code
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(sig)
