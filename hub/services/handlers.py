"""Which service decides which request type: one explicit line each."""

from __future__ import annotations

from hub.services.attendance import handle_tap
from hub.services.requests import Handler
from hub.services.wallet import handle_pay
from hub.settings import HubSettings


def request_handlers(settings: HubSettings) -> dict[str, Handler]:
    """The handlers of this hub, by request ``type``; a type missing here is answered
    ``error.unavailable`` and not recorded, so it is decided once a service serves it."""
    handlers: dict[str, Handler] = {}
    handlers["pay"] = handle_pay
    handlers["tap"] = handle_tap
    return handlers
