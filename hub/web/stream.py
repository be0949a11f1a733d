"""Server-Sent Events over ``LiveState``: a snapshot, then only what changed, resumable by id.

Event ids are ``{epoch}-{version}``. The epoch is made per live state, so a browser that comes
back to a restarted hub (or another hub worker), whose versions start again from zero, gets a
full snapshot instead of a delta against numbers that mean something else.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import anyio

from hub.live import LiveState

log = logging.getLogger(__name__)

RETRY_MS = 2000
"""How long a browser waits before it reconnects (the SSE ``retry:`` field)."""

_ID_RE = re.compile(r"([0-9a-f]{8})-([0-9]{1,18})")


def sse_event(event: str, event_id: str, data: dict[str, Any]) -> str:
    """One SSE message; the JSON has no newlines, so it fits one ``data:`` line."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event}\nid: {event_id}\ndata: {body}\n\n"


def resume_version(last_event_id: str | None, epoch: str, version: int) -> int | None:
    """The version to send changes after, or None when the client needs a full snapshot.

    Anything we did not issue (garbage, another epoch, a version from the future) means
    a snapshot: it is always a correct answer, never an error.
    """
    if not last_event_id:
        return None
    match = _ID_RE.fullmatch(last_event_id.strip())
    if match is None or match.group(1) != epoch:
        return None
    since = int(match.group(2))
    return since if since <= version else None


class LiveStreams:
    """The open live streams of one app: their epoch, a cap on their number, and a stop flag."""

    def __init__(
        self,
        live: LiveState,
        *,
        max_streams: int = 64,
        wait_s: float = 0.5,
        keepalive_s: float = 15.0,
        min_gap_s: float = 0.2,
        max_age_s: float = 300.0,
    ) -> None:
        self.live = live
        self.epoch = secrets.token_hex(4)
        self.max_streams = max_streams
        # Short waits so a stream notices a stop within ``wait_s`` and no thread stays blocked
        # in wait_for_change for long after its stream is gone.
        self.wait_s = wait_s
        self.keepalive_s = keepalive_s
        # Coalesce bursts: a wall needs a few frames a second, not one per MQTT message.
        self.min_gap_s = min_gap_s
        # Streams end on their own now and then and the browser resumes by Last-Event-ID, so a
        # server's graceful shutdown never waits on a wall longer than this.
        self.max_age_s = max_age_s
        self.open = 0
        self.closing = False
        self._limiter: anyio.CapacityLimiter | None = None

    def limiter(self) -> anyio.CapacityLimiter:
        """Threads for ``wait_for_change``, apart from the pool FastAPI's sync handlers use."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.max_streams)
        return self._limiter

    def full(self) -> bool:
        """Whether another stream would pass the cap."""
        return self.open >= self.max_streams

    def close(self) -> None:
        """Ask every open stream to end (within ``wait_s``); call it when the server stops."""
        self.closing = True

    def event_id(self, version: int) -> str:
        """The SSE id for a version of this live state."""
        return f"{self.epoch}-{version}"

    async def events(
        self, since: int | None, is_disconnected: Callable[[], Awaitable[bool]],
        school: str | None = None,
    ) -> AsyncIterator[str]:
        """The stream's text: retry hint, snapshot or catch-up, then changes and keep-alives;
        only ``school``'s edges and devices when one is given."""
        live = self.live
        self.open += 1
        try:
            yield f"retry: {RETRY_MS}\n\n"
            if since is None:
                payload = live.changes(0, school)
                yield self._message("snapshot", payload)
            else:
                payload = live.changes(since, school)
                if payload["version"] > since:
                    yield self._message("change", payload)
            last = payload["version"]
            started = quiet_since = time.monotonic()
            while not self.closing and time.monotonic() - started < self.max_age_s:
                if await is_disconnected():
                    return
                # On a disconnect the task moves on at once; the thread's own wait ends soon.
                version = await anyio.to_thread.run_sync(
                    live.wait_for_change,
                    last,
                    self.wait_s,
                    abandon_on_cancel=True,
                    limiter=self.limiter(),
                )
                if version > last:
                    payload = live.changes(last, school)
                    last = payload["version"]
                    yield self._message("change", payload)
                    quiet_since = time.monotonic()
                    await anyio.sleep(self.min_gap_s)
                elif time.monotonic() - quiet_since >= self.keepalive_s:
                    yield ": keep-alive\n\n"
                    quiet_since = time.monotonic()
        finally:
            self.open -= 1

    def _message(self, event: str, payload: dict[str, Any]) -> str:
        # "now" lets the page show reading ages by the hub's clock, not the wall PC's.
        data = {**payload, "now": datetime.now(UTC).isoformat()}
        return sse_event(event, self.event_id(payload["version"]), data)
