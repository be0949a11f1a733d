"""A uvicorn server that ends the live-wall streams as soon as it is told to stop.

uvicorn waits for open responses before it shuts down, and an SSE stream never ends by itself;
the app's lifespan shutdown runs only after that wait, so it cannot be the signal.
"""

from __future__ import annotations

from types import FrameType

import uvicorn
from fastapi import FastAPI

from hub.web.routes import stop_streams


class LiveWallServer(uvicorn.Server):
    """``uvicorn.Server`` whose exit handler (SIGINT/SIGTERM) first ends ``app``'s streams."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self.live_app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Flag the streams to end (a plain attribute write, safe in a signal handler)."""
        stop_streams(self.live_app)
        super().handle_exit(sig, frame)
