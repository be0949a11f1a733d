"""Which service decides which request type: one explicit line each."""

from __future__ import annotations

from hub.services.requests import Handler
from hub.settings import HubSettings


def request_handlers(settings: HubSettings) -> dict[str, Handler]:
    """The handlers of this hub, by request ``type``; a type missing here is answered
    ``error.unavailable`` and not recorded, so it is decided once a service serves it."""
    handlers: dict[str, Handler] = {}
    return handlers
