"""Routes of the live wall: the page, its static files, a JSON snapshot and the SSE stream.

Everything here reads ``request.app.state.live`` (a ``hub.live.LiveState``) and nothing else
of the hub, so any app that sets it can include this router.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, StreamingResponse
from starlette.responses import Response

from hub.live import LiveState
from hub.web.stream import LiveStreams, resume_version

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Only plain file names of the kinds we ship: no path separators, so no way out of STATIC_DIR.
_STATIC_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\.(js|css|svg|png|ico)")
_MEDIA_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
    "ico": "image/x-icon",
}
# A wall runs for weeks; after a deploy a reload must fetch the new files.
_NO_CACHE = {"Cache-Control": "no-cache"}

router = APIRouter(tags=["live wall"])


def live_streams(app: FastAPI) -> LiveStreams:
    """The app's stream registry, made on first use (again if ``app.state.live`` was replaced)."""
    live: LiveState = app.state.live
    streams: LiveStreams | None = getattr(app.state, "live_streams", None)
    if streams is None or streams.live is not live:
        streams = LiveStreams(live)
        app.state.live_streams = streams
    return streams


def stop_streams(app: FastAPI) -> None:
    """End the app's open live streams within about a second (call it as the server stops)."""
    streams: LiveStreams | None = getattr(app.state, "live_streams", None)
    if streams is not None:
        streams.close()


@router.get("/", include_in_schema=False)
async def root() -> RedirectResponse:
    """The hub's front page is the live wall."""
    return RedirectResponse("/wall", status_code=307)


@router.get("/wall", include_in_schema=False)
async def wall() -> FileResponse:
    """The live wall page."""
    return FileResponse(STATIC_DIR / "wall.html", media_type="text/html", headers=_NO_CACHE)


@router.get("/wall/static/{name}", include_in_schema=False)
async def wall_static(name: str) -> Response:
    """The wall's scripts, styles and images, from the installed package."""
    match = _STATIC_NAME.fullmatch(name)
    path = STATIC_DIR / name
    if match is None or not path.is_file():
        return JSONResponse({"detail": "not found"}, status_code=404)
    return FileResponse(path, media_type=_MEDIA_TYPES[match.group(1)], headers=_NO_CACHE)


@router.get("/api/v1/live")
async def live_snapshot(request: Request) -> dict[str, Any]:
    """Every edge's state and every device's latest values, with the live state's version."""
    live: LiveState = request.app.state.live
    return live.changes(0)


@router.get("/api/v1/live/stream", response_model=None)
async def live_stream(request: Request) -> Response:
    """Server-Sent Events: a snapshot (or what a reconnecting client missed), then changes."""
    streams = live_streams(request.app)
    if streams.full() or streams.closing:
        return JSONResponse(
            {"detail": "too many live streams, retry later"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    since = resume_version(
        request.headers.get("last-event-id"), streams.epoch, streams.live.version
    )
    return StreamingResponse(
        streams.events(since, request.is_disconnected),
        media_type="text/event-stream",
        headers={
            "Cache-Control": "no-cache",
            # Proxies such as nginx would otherwise hold events back in their buffers.
            "X-Accel-Buffering": "no",
        },
    )
