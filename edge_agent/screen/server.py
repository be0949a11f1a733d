"""Serving the screen with uvicorn inside the agent's TaskGroup (no signal handling of its own)."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette

from edge_agent.settings import ScreenSettings

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its signal capture: the agent owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ScreenServer:
    """Binds at construction (so a taken port fails the start), serves with ``await run()``."""

    def __init__(self, app: Starlette, settings: ScreenSettings) -> None:
        self._socket = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((settings.host, settings.port))
        except OSError:
            self._socket.close()
            raise
        self._socket.listen(64)
        self._socket.setblocking(False)
        self.host = settings.host
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app, log_config=None, log_level="warning", lifespan="off", ws="none",
            http="h11", timeout_graceful_shutdown=2, access_log=False,
        )
        self._server = _Server(config)

    @property
    def url(self) -> str:
        """``http://host:port`` of the screen."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def run(self) -> None:
        """Serve until ``stop()``."""
        log.info("screen at %s", self.url)
        try:
            await self._server.serve(sockets=[self._socket])
        finally:
            self._socket.close()

    def stop(self) -> None:
        """Ask the server to finish its requests and return from ``run()``."""
        self._server.should_exit = True
