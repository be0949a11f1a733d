"""What a reader's screen shows: the last answer per device, pushed live to every open page."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from protocol.codes import MESSAGES, Code, is_ok
from protocol.messages import now

#: Answers queued per open page before the slowest page starts losing the oldest.
_QUEUE = 32


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer shown on a door or till screen."""

    device: str
    role: str
    code: Code
    request: UUID | None = None
    offline: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    ts: datetime = field(default_factory=now)

    @property
    def ok(self) -> bool:
        """Whether the answer is a success (green) rather than a refusal (red)."""
        return is_ok(self.code)

    def to_dict(self) -> dict[str, Any]:
        """The JSON the screen and ``GET /api/last`` get."""
        vi, en = MESSAGES[self.code]
        return {
            "device": self.device,
            "role": self.role,
            "code": self.code.value,
            "ok": self.ok,
            "msg": {"vi": vi, "en": en},
            "offline": self.offline,
            "request": str(self.request) if self.request else None,
            "ts": self.ts.isoformat(),
            "data": self.data,
        }


class AnswerBoard:
    """The last answer of every device, and a queue per open page for live updates."""

    def __init__(self) -> None:
        self.last: dict[str, Answer] = {}
        self.latest: Answer | None = None
        self._pages: set[asyncio.Queue[Answer | None]] = set()
        self.shown = 0

    def show(self, answer: Answer) -> None:
        """Make ``answer`` the one on screen."""
        self.last[answer.device] = answer
        self.latest = answer
        self.shown += 1
        for queue in self._pages:
            if queue.full():
                queue.get_nowait()  # a page that does not read loses its oldest, not others
            queue.put_nowait(answer)

    def subscribe(self) -> asyncio.Queue[Answer | None]:
        """A queue that gets every answer from now on (``None`` when the board closes)."""
        queue: asyncio.Queue[Answer | None] = asyncio.Queue(_QUEUE)
        self._pages.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Answer | None]) -> None:
        """Stop feeding a page that went away."""
        self._pages.discard(queue)

    def close(self) -> None:
        """End every live stream (the agent is stopping)."""
        for queue in self._pages:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)
