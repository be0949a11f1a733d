"""A fast path for decoding telemetry, the hub's hottest message, with msgspec.

``decode_telemetry`` accepts exactly what ``protocol.messages.Telemetry`` accepts and gives the
same values. The fast path takes only the plain shape (no unknown fields, ``ts`` as
``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM)``, all checks passed); anything else, valid or not, goes
through the pydantic model, which then decides and words the error.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import msgspec

from protocol.decode import MAX_PAYLOAD, decode_as
from protocol.messages import Telemetry
from protocol.topics import IDENT_PATTERN

__all__ = ["FastTelemetry", "decode_telemetry"]

# ``\Z``, not ``$``: ``$`` also matches before a trailing newline, which the models refuse.
_IDENT = re.compile(rf"{IDENT_PATTERN}\Z").match
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}\Z").match
_TS = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})\Z"
).match
_SEQ_END = 2**63
#: Names and ids seen valid, so that the regex runs once per name, not once per message.
_KNOWN_CAP = 10_000


class FastTelemetry(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, gc=False):
    """A telemetry message decoded by the fast path: the same fields as ``Telemetry``."""

    v: int = 1
    id: str
    #: The wire string while decoding, an aware datetime once accepted.
    ts: Any
    seq: int
    values: dict[str, float]


_DECODER = msgspec.json.Decoder(FastTelemetry)
_names: set[str] = set()
_ids: set[str] = set()


def _fast(payload: bytes) -> FastTelemetry | None:
    """The message when the fast path can vouch for it, else None (ask the model)."""
    try:
        message = _DECODER.decode(payload)
    except msgspec.DecodeError:  # ValidationError is a subclass
        return None
    if message.v != 1 or type(message.v) is not int:
        return None
    seq = message.seq
    if seq < 0 or seq >= _SEQ_END:
        return None
    ident = message.id
    if ident not in _ids:
        if _IDENT(ident) is None:
            return None
        if len(_ids) >= _KNOWN_CAP:
            _ids.clear()
        _ids.add(ident)
    values = message.values
    if not 0 < len(values) <= 64:
        return None
    names = _names
    for name, value in values.items():
        # ``x - x`` is 0.0 for finite floats and NaN for infinities and NaN.
        if value - value != 0.0:
            return None
        if name not in names:
            if _NAME(name) is None:
                return None
            if len(names) >= _KNOWN_CAP:
                names.clear()
            names.add(name)
    ts = message.ts
    if type(ts) is not str or _TS(ts) is None:
        return None
    try:
        message.ts = datetime.fromisoformat(ts)
    except ValueError:
        return None
    return message


def decode_telemetry(payload: bytes) -> FastTelemetry | Telemetry:
    """Validate a telemetry payload; raise ProtocolError exactly when ``Telemetry`` refuses it."""
    if len(payload) <= MAX_PAYLOAD:
        message = _fast(payload)
        if message is not None:
            return message
    return decode_as(Telemetry, payload)
