"""Message models of the v1 contract (pydantic v2, frozen).

Field names are the wire names. Models validate strictly: a number where a string belongs, a
naive timestamp, a lower-case card UID or a NaN reading is refused, so that a bad producer is seen
at the hub's door and counted, not stored.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from protocol.codes import MESSAGES, Code, is_ok
from protocol.topics import IDENT_PATTERN

VERSION: Literal[1] = 1

Ident = Annotated[str, StringConstraints(pattern=f"^{IDENT_PATTERN}$")]
#: ``em:`` 5 bytes, ``nfc:`` a 4, 7 or 10 byte ISO 14443A UID, ``qr:`` a printed payload.
Card = Annotated[
    str,
    StringConstraints(
        pattern=r"^(em:[0-9A-F]{10}|nfc:([0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})|qr:[\x21-\x7e]{1,256})$"
    ),
]
#: Reading names carry their unit (``co2_ppm``, ``pm25_ugm3``, ``lux``).
ValueName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Timestamp = AwareDatetime
Seq = Annotated[int, Field(ge=0, lt=2**63)]
Dong = Annotated[int, Field(ge=0, le=1_000_000_000)]


class Message(BaseModel):
    """Base of every wire message: frozen, strict types, unknown fields ignored (forward compat)."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore", allow_inf_nan=False)

    v: Literal[1] = VERSION

    def to_json(self) -> bytes:
        """The message as compact UTF-8 JSON, as it goes on the wire."""
        return self.model_dump_json(exclude_none=True).encode()


class EdgeState(StrEnum):
    """Whether an edge is connected, as its birth and Last Will say."""

    ONLINE = "online"
    OFFLINE = "offline"


class DeviceInfo(BaseModel):
    """One device wired to an edge, as listed in its birth message."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")

    id: Ident
    kind: Ident
    model: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    #: The room the device serves, when it differs from nothing known; used as a telemetry tag.
    room: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class Status(Message):
    """``status``: retained birth, and the Last Will with ``state: offline``."""

    ts: Timestamp
    state: EdgeState
    fw: Annotated[str, StringConstraints(max_length=64)] = ""
    devices: Annotated[tuple[DeviceInfo, ...], Field(max_length=256)] = ()
    #: One id per MQTT connection, in its birth and in its Last Will. A Will is stamped when the
    #: connection opens, so its ``ts`` is older than the birth; the session tells the hub that
    #: it is the death of the current connection, not a stale one from before.
    session: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None


class DeviceHealth(BaseModel):
    """One device's health inside a heartbeat."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")

    ok: bool
    errors: Annotated[int, Field(ge=0)] = 0
    last_ts: Timestamp | None = None


Pct = Annotated[float, Field(ge=0, le=100)]


class Heartbeat(Message):
    """``heartbeat``: every 30 s, the box's and its devices' health."""

    ts: Timestamp
    uptime_s: Annotated[float, Field(ge=0)]
    cpu_pct: Pct | None = None
    mem_pct: Pct | None = None
    disk_pct: Pct | None = None
    temp_c: float | None = None
    outbox: Annotated[int, Field(ge=0)] = 0
    #: Messages the broker refused (MQTT 5 reason code), kept on the box until a ``sync``.
    outbox_refused: Annotated[int, Field(ge=0)] = 0
    devices: dict[Ident, DeviceHealth] = Field(default_factory=dict, max_length=256)


class Telemetry(Message):
    """``telemetry/{device}``: readings, each name carrying its unit."""

    id: Ident
    ts: Timestamp
    seq: Seq
    values: Annotated[dict[ValueName, float], Field(min_length=1, max_length=64)]


class Event(Message):
    """``event/{device}``: something that happened (``board.power``, ``door.open``...)."""

    id: UUID
    ts: Timestamp
    seq: Seq
    type: Annotated[
        str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$", max_length=64)
    ]
    data: dict[str, Any] = Field(default_factory=dict)


class _RequestBase(Message):
    id: UUID
    ts: Timestamp
    device: Ident


class Tap(_RequestBase):
    """A card presented at a door or gate reader."""

    type: Literal["tap"] = "tap"
    card: Card


class PayItem(BaseModel):
    """One line of a till sale."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")

    sku: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    qty: Annotated[int, Field(ge=1, le=1000)] = 1
    price: Dong


class Pay(_RequestBase):
    """A till sale; ``offline`` when the edge already approved it without the hub."""

    type: Literal["pay"] = "pay"
    card: Card
    amount: Annotated[int, Field(gt=0, le=10_000_000)]
    items: tuple[PayItem, ...] | None = None
    offline: bool = False


class Checkout(_RequestBase):
    """A book borrowed at a kiosk."""

    type: Literal["checkout"] = "checkout"
    card: Card
    item: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Checkin(_RequestBase):
    """A book returned."""

    type: Literal["checkin"] = "checkin"
    item: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Renew(_RequestBase):
    """A loan renewed."""

    type: Literal["renew"] = "renew"
    card: Card
    item: Annotated[str, StringConstraints(min_length=1, max_length=64)]


Request = Annotated[Tap | Pay | Checkout | Checkin | Renew, Field(discriminator="type")]


class LocalizedText(BaseModel):
    """A text for people, in Vietnamese and English."""

    model_config = ConfigDict(frozen=True, strict=True)

    vi: str
    en: str


class Response(Message):
    """``resp``: the hub's answer to request ``re``."""

    re: UUID
    ok: bool
    code: Code
    msg: LocalizedText
    data: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def for_code(cls, re: UUID, code: Code, data: dict[str, Any] | None = None) -> Response:
        """An answer with the code's standard messages."""
        vi, en = MESSAGES[code]
        return cls(
            re=re, ok=is_ok(code), code=code, msg=LocalizedText(vi=vi, en=en), data=data or {}
        )


class Command(Message):
    """``cmd``: a command to an edge (``reboot``, ``reload``, ``identify``, ``sync``, ...)."""

    id: UUID
    cmd: Annotated[
        str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$", max_length=64)
    ]
    args: dict[str, Any] = Field(default_factory=dict)


class CommandAck(Message):
    """``cmd/ack``: the edge's answer to command ``re``."""

    re: UUID
    ok: bool
    code: Code
    data: dict[str, Any] = Field(default_factory=dict)


def now() -> datetime:
    """The current time with the local offset, as ``ts`` fields want it."""
    return datetime.now().astimezone()
