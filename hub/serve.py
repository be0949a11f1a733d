"""Serving the hub: the app under uvicorn, stopped cleanly by SIGTERM or Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from hub.app import create_app
from hub.settings import HubSettings
from hub.web.routes import stop_streams
from hub.web.server import LiveWallServer


class HubServer(LiveWallServer):
    """A LiveWallServer that exits 0 after a signal-driven clean stop (uvicorn re-raises it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Handle SIGINT/SIGTERM as a request to stop, and do not re-raise them afterwards."""
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class EmbeddedHubServer(LiveWallServer):
    """The hub inside another program's event loop, which owns the signals (the demo)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave signal handling to the embedding program."""
        yield

    def request_stop(self) -> None:
        """End the live streams and ask uvicorn to stop."""
        stop_streams(self.live_app)
        self.should_exit = True


def make_config(app: FastAPI, settings: HubSettings, log_level: str = "info") -> uvicorn.Config:
    """uvicorn's config for the hub app on the settings' host and port."""
    return uvicorn.Config(app, host=settings.http_host, port=settings.http_port, log_level=log_level)


def serve(settings: HubSettings) -> int:
    """Run the full hub until SIGTERM or Ctrl-C; return the exit code."""
    app = create_app(settings)
    server = HubServer(make_config(app, settings), app)
    server.run()
    return 0 if server.started else 1
