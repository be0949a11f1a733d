"""Server-Sent Events of the city wall: the whole city's figures, again whenever they move.

An event holds the city's totals, every area of the map and the schools needing attention (not
every school: a few kilobytes whether the city has 40 schools or 2,000). It is always whole, so a
browser that reconnects needs no resume: its first event is the city as it is. Streams share the
live wall's ``LiveStreams`` (its cap, its stop flag), so a stopping server ends them the same way.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import anyio

from hub.web.city import CityView
from hub.web.stream import RETRY_MS, LiveStreams, sse_event

#: Rates (taps per minute...) and reading ages move with time alone: look again this often.
RECHECK_S = 1.0
#: What of the figures the wall is sent (the JSON snapshot also has every school).
SENT = ("version", "map", "totals", "areas", "attention")


def city_message(streams: LiveStreams, payload: dict[str, Any]) -> str:
    """One ``city`` event with the hub's clock, for the page's clock."""
    data = {name: payload[name] for name in SENT} | {"now": datetime.now(UTC).isoformat()}
    return sse_event("city", streams.event_id(payload["version"]), data)


def _content(payload: dict[str, Any]) -> tuple[Any, ...]:
    return payload["totals"], payload["areas"], payload["attention"]


async def city_events(
    streams: LiveStreams, view: CityView, is_disconnected: Callable[[], Awaitable[bool]]
) -> AsyncIterator[str]:
    """The stream's text: retry hint, the city now, then the city again each time it changes."""
    live = view.live
    streams.open += 1
    try:
        yield f"retry: {RETRY_MS}\n\n"
        await anyio.to_thread.run_sync(view.directory.refresh, limiter=streams.limiter())
        payload = view.figures()
        yield city_message(streams, payload)
        last, sent = payload["version"], _content(payload)
        started = looked = quiet_since = time.monotonic()
        while not streams.closing and time.monotonic() - started < streams.max_age_s:
            if await is_disconnected():
                return
            version = await anyio.to_thread.run_sync(
                live.wait_for_change, last, streams.wait_s,
                abandon_on_cancel=True, limiter=streams.limiter(),
            )
            if view.directory.due():
                await anyio.to_thread.run_sync(view.directory.refresh, limiter=streams.limiter())
            now = time.monotonic()
            if version > last or now - looked >= RECHECK_S:
                looked = now
                payload = view.figures()
                last = payload["version"]
                content = _content(payload)
                if content != sent:
                    sent = content
                    yield city_message(streams, payload)
                    quiet_since = time.monotonic()
                # Figures at most every min_gap_s: 200 edges' telemetry changes the state many
                # times a second, and most changes move no figure of the city.
                await anyio.sleep(streams.min_gap_s)
            if time.monotonic() - quiet_since >= streams.keepalive_s:
                yield ": keep-alive\n\n"
                quiet_since = time.monotonic()
    finally:
        streams.open -= 1
