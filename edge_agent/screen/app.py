"""The screen's routes: the door/till page, the last answer, live answers (SSE), the till's sale."""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from edge_agent.answers import AnswerBoard
from edge_agent.cards import CardFlow

STATIC = Path(__file__).with_name("static")

#: Seconds between SSE comments that keep idle connections (and proxies) open.
KEEPALIVE_S = 15.0


def _error(status: int, vi: str, en: str) -> JSONResponse:
    return JSONResponse({"error": {"vi": vi, "en": en}}, status_code=status)


def create_screen_app(
    cards: CardFlow, board: AnswerBoard, lang: str, status: Callable[[], dict[str, Any]]
) -> Starlette:
    """The screen's ASGI app over the agent's card flow and answer board."""
    page = (STATIC / "page.html").read_text(encoding="utf-8")

    def _lang(request: Request) -> str:
        wanted = request.query_params.get("lang", lang)
        return wanted if wanted in ("vi", "en") else lang

    async def index(request: Request) -> Response:
        if len(cards.devices) == 1:
            only = next(iter(cards.devices))
            return HTMLResponse(status_code=307, headers={"Location": f"/device/{only}"})
        links = "".join(
            f'<li><a data-testid="device-link" href="/device/{html.escape(d.id)}">'
            f"{html.escape(d.id)} ({html.escape(d.role or '')})</a></li>"
            for d in cards.devices.values()
        )
        return HTMLResponse(f"<!doctype html><meta charset=utf-8><title>Smart school</title>"
                            f"<ul>{links}</ul>")

    async def device_page(request: Request) -> Response:
        device = cards.devices.get(request.path_params["device"])
        if device is None:
            return HTMLResponse("unknown device / không có thiết bị này", status_code=404)
        text = (page.replace("{{DEVICE}}", html.escape(device.id))
                .replace("{{ROLE}}", html.escape(device.role or "door"))
                .replace("{{LANG}}", _lang(request)))
        return HTMLResponse(text)

    def _device(request: Request) -> str | None:
        return request.query_params.get("device")

    async def last(request: Request) -> Response:
        device = _device(request)
        answer = board.last.get(device) if device else board.latest
        return JSONResponse(answer.to_dict() if answer else None)

    async def events(request: Request) -> Response:
        device = _device(request)

        async def stream() -> AsyncIterator[str]:
            queue = board.subscribe()
            try:
                yield ": connected\n\n"
                while True:
                    try:
                        answer = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                    except TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                    if answer is None:
                        return
                    if device and answer.device != device:
                        continue
                    yield f"data: {json.dumps(answer.to_dict(), ensure_ascii=False)}\n\n"
            finally:
                board.unsubscribe(queue)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    async def get_sale(request: Request) -> Response:
        till = cards.tills.get(_device(request) or "")
        if till is None:
            return _error(404, "Không có quầy thu ngân này", "No such till")
        return JSONResponse({"device": till.device_id,
                             "sale": till.sale.to_dict() if till.sale else None})

    async def set_sale(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Dữ liệu không hợp lệ", "Body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "Dữ liệu không hợp lệ", "Body must be a JSON object")
        device = body.get("device")
        if device is None and len(cards.tills) == 1:
            device = next(iter(cards.tills))
        till = cards.tills.get(device) if isinstance(device, str) else None
        if till is None:
            return _error(404, "Không có quầy thu ngân này", "No such till")
        if body.get("amount") is None:
            till.clear()
            return JSONResponse({"device": till.device_id, "sale": None})
        try:
            sale = till.set_sale(body.get("amount"), body.get("items") or None)  # type: ignore[arg-type]
        except ValueError as error:
            return _error(400, "Số tiền hoặc món không hợp lệ", str(error))
        return JSONResponse({"device": till.device_id, "sale": sale.to_dict()})

    async def get_status(request: Request) -> Response:
        return JSONResponse(status())

    return Starlette(routes=[
        Route("/", index),
        Route("/device/{device}", device_page),
        Route("/api/last", last),
        Route("/api/events", events),
        Route("/api/sale", get_sale, methods=["GET"]),
        Route("/api/sale", set_sale, methods=["POST"]),
        Route("/api/status", get_status),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])
