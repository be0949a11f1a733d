"""Decoding payloads off the wire: one entry point, one error type."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, TypeAdapter, ValidationError

from protocol.errors import ProtocolError
from protocol.messages import (
    Command,
    CommandAck,
    Event,
    Heartbeat,
    Request,
    Response,
    Status,
    Telemetry,
)
from protocol.topics import TopicKind

#: Larger payloads are refused before parsing; the biggest legitimate one (a status with 256
#: devices) is far below this.
MAX_PAYLOAD = 64 * 1024

M = TypeVar("M", bound=BaseModel)

_REQUEST = TypeAdapter(Request)

MODELS: dict[TopicKind, Any] = {
    TopicKind.STATUS: Status,
    TopicKind.HEARTBEAT: Heartbeat,
    TopicKind.TELEMETRY: Telemetry,
    TopicKind.EVENT: Event,
    TopicKind.REQ: _REQUEST,
    TopicKind.RESP: Response,
    TopicKind.CMD: Command,
    TopicKind.CMD_ACK: CommandAck,
}


def _reason(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "payload"
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _validated(validate_json: Callable[[bytes], Any], payload: bytes) -> Any:
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    try:
        return validate_json(payload)
    except ValidationError as error:
        raise ProtocolError(_reason(error)) from error
    except (ValueError, TypeError, RecursionError) as error:
        raise ProtocolError(f"undecodable payload: {error}") from error


def decode_as(model: type[M], payload: bytes) -> M:
    """Validate ``payload`` (JSON bytes) as ``model``; raise ProtocolError on any problem."""
    return _validated(model.model_validate_json, payload)  # type: ignore[no-any-return]


def decode_request(payload: bytes) -> Any:
    """Validate a ``req`` payload into Tap, Pay, Checkout, Checkin or Renew."""
    return _validated(_REQUEST.validate_json, payload)


def decode(kind: TopicKind, payload: bytes) -> Any:
    """Validate ``payload`` as the message that topics of ``kind`` carry."""
    if kind is TopicKind.REQ:
        return decode_request(payload)
    return decode_as(MODELS[kind], payload)


_ID = re.compile(rb'"id"\s*:\s*"([0-9a-fA-F-]{32,36})"')


def salvage_id(payload: bytes) -> UUID | None:
    """The request ``id`` of a payload that failed to validate, so it can still be answered."""
    match = _ID.search(payload[:MAX_PAYLOAD])
    if match is None:
        return None
    try:
        return UUID(match.group(1).decode())
    except ValueError:
        return None
