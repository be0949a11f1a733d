"""Routes of the live walls: the pages, their static files, JSON snapshots and SSE streams.

``/wall`` shows every room; ``/wall/city`` the whole city by area. Everything here reads
``request.app.state.live`` (a ``hub.live.LiveState``); the city wall also reads schools' names
and areas through ``app.state.engine`` now and then, and its map from ``app.state.settings``,
both optional, so any app that sets ``live`` and ``tokens`` (a ``hub.auth.TokenSigner``) can
include this router.

The pages are public; the data behind them needs a live viewer's token (admin, staff,
technician or wall), from ``Authorization`` or the session cookie that ``/wall/login?token=``
(a display opened once with its token) or ``POST /api/v1/session`` (the console) sets.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, StreamingResponse
from starlette.responses import Response

from hub.auth import (
    SESSION_COOKIE,
    Principal,
    Role,
    ensure_live_viewer,
    live_viewer,
    principal,
    verify_token,
)
from hub.live import LiveState
from hub.web.areas import DEFAULT_AREA_MAP, load_area_map
from hub.web.city import CityView
from hub.web.city_stream import city_events
from hub.web.directory import SchoolDirectory
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
#: The live data: every route of it needs a live viewer.
live_router = APIRouter(tags=["live wall"], dependencies=[Depends(live_viewer)])
#: Where ``/wall/login`` may send the browser, relative so that a path prefix of a proxy holds.
_LOGIN_NEXT = {"wall": "../wall", "city": "../wall/city", "console": "../console"}


def live_streams(app: FastAPI) -> LiveStreams:
    """The app's stream registry, made on first use (again if ``app.state.live`` was replaced)."""
    live: LiveState = app.state.live
    streams: LiveStreams | None = getattr(app.state, "live_streams", None)
    if streams is None or streams.live is not live:
        streams = LiveStreams(live)
        app.state.live_streams = streams
    return streams


def city_view(app: FastAPI) -> CityView:
    """The app's city figures, made on first use (again if ``app.state.live`` was replaced).

    Names and areas come from ``app.state.school_directory`` when set, else from the app's
    database engine (none: schools show by id); the map is the ``wall_area_map`` setting's.
    """
    live: LiveState = app.state.live
    view: CityView | None = getattr(app.state, "city_view", None)
    if view is None or view.live is not live:
        directory = getattr(app.state, "school_directory", None)
        if directory is None:
            directory = SchoolDirectory(getattr(app.state, "engine", None))
        settings = getattr(app.state, "settings", None)
        area_map = load_area_map(settings.wall_area_map if settings else DEFAULT_AREA_MAP)
        view = app.state.city_view = CityView(live, directory, area_map)
    return view


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


@router.get("/wall/city", include_in_schema=False)
async def city_wall() -> FileResponse:
    """The city wall page: schools by area, coloured by health, and the city's figures."""
    return FileResponse(STATIC_DIR / "city.html", media_type="text/html", headers=_NO_CACHE)


@router.get("/wall/login", include_in_schema=False)
async def wall_login(request: Request, token: str = "", next: str = "wall") -> Response:
    """Sign a display in with its token (kept in a cookie), then show the page ``next``."""
    caller = ensure_live_viewer(verify_token(request, token))
    response = RedirectResponse(_LOGIN_NEXT.get(next, "../wall"), status_code=303)
    _set_session(request, response, token, caller)
    return response


@router.post("/api/v1/session", status_code=204, response_class=Response)
async def open_session(request: Request,
                       caller: Principal = Depends(principal)) -> Response:  # noqa: B008
    """Keep the bearer token in the session cookie, for the live streams of this browser."""
    ensure_live_viewer(caller)
    token = request.headers["authorization"].split(" ", 1)[1].strip()
    response = Response(status_code=204)
    _set_session(request, response, token, caller)
    return response


@router.delete("/api/v1/session", status_code=204, response_class=Response)
async def close_session() -> Response:
    """Forget the session cookie."""
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _set_session(request: Request, response: Response, token: str, caller: Principal) -> None:
    # HttpOnly: no script reads it; Strict: no other site's page sends it.
    response.set_cookie(SESSION_COOKIE, token, max_age=max(caller.expires_at - int(time.time()), 0),
                        path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


@router.get("/wall/static/{name}", include_in_schema=False)
async def wall_static(name: str) -> Response:
    """The wall's scripts, styles and images, from the installed package."""
    match = _STATIC_NAME.fullmatch(name)
    path = STATIC_DIR / name
    if match is None or not path.is_file():
        return JSONResponse({"detail": "not found"}, status_code=404)
    return FileResponse(path, media_type=_MEDIA_TYPES[match.group(1)], headers=_NO_CACHE)


def live_scope(caller: Principal) -> str | None:
    """The one school a caller's live views show; None: every school (admins, walls, and
    staff or technicians whose token names no school)."""
    return caller.school if caller.role in (Role.STAFF, Role.TECHNICIAN) else None


Viewer = Annotated[Principal, Depends(live_viewer)]


def city_viewer(caller: Viewer) -> Principal:
    """A caller of the city views: they show every school, so no one limited to one."""
    if live_scope(caller) is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail={
            "vi": "Màn hình toàn thành phố dành cho trung tâm điều hành (mã quản trị hoặc màn hình)",
            "en": "The city wall is for the operations centre (an admin or wall token)"})
    return caller


@live_router.get("/api/v1/live")
async def live_snapshot(request: Request, caller: Viewer) -> dict[str, Any]:
    """Every edge's state and every device's latest values (of the caller's school when the
    token names one), with the live state's version."""
    live: LiveState = request.app.state.live
    return live.changes(0, live_scope(caller))


@live_router.get("/api/v1/live/city", dependencies=[Depends(city_viewer)])
async def city_snapshot(request: Request) -> dict[str, Any]:
    """The city's figures now: totals, every area of the map, every school."""
    view = city_view(request.app)
    await anyio.to_thread.run_sync(view.directory.refresh)
    return view.figures()


@live_router.get("/api/v1/live/city/map", dependencies=[Depends(city_viewer)])
async def city_map(request: Request) -> dict[str, Any]:
    """The area map the city wall draws (chosen by the ``wall_area_map`` setting)."""
    return city_view(request.app).area_map.model_dump(mode="json")


@live_router.get("/api/v1/live/city/stream", response_model=None,
                 dependencies=[Depends(city_viewer)])
async def city_stream(request: Request) -> Response:
    """Server-Sent Events: the city's figures, then again whenever a figure moves."""
    streams = live_streams(request.app)
    if streams.full() or streams.closing:
        return _too_many_streams()
    return _event_stream(city_events(streams, city_view(request.app), request.is_disconnected))


@live_router.get("/api/v1/live/stream", response_model=None)
async def live_stream(request: Request, caller: Viewer) -> Response:
    """Server-Sent Events: a snapshot (or what a reconnecting client missed), then changes; of
    the caller's school when the token names one."""
    streams = live_streams(request.app)
    if streams.full() or streams.closing:
        return _too_many_streams()
    since = resume_version(
        request.headers.get("last-event-id"), streams.epoch, streams.live.version
    )
    return _event_stream(streams.events(since, request.is_disconnected, live_scope(caller)))


def _too_many_streams() -> JSONResponse:
    return JSONResponse({"detail": "too many live streams, retry later"}, status_code=503,
                        headers={"Retry-After": "5"})


def _event_stream(events: AsyncIterator[str]) -> StreamingResponse:
    # Proxies such as nginx would otherwise hold events back in their buffers.
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# Last, once the live routes above are defined: one router for the app to include.
router.include_router(live_router)
