"""Topic names of the v1 contract: builders and a validating parser.

Every topic lives under ``ss/v1/{school}/{edge}/``. Builders refuse bad identifiers so that a
misconfigured edge fails at start, not on the wire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from protocol.errors import ProtocolError

PREFIX = "ss/v1"
IDENT_PATTERN = r"[a-z0-9][a-z0-9-]{0,63}"
_IDENT = re.compile(IDENT_PATTERN)

#: What the hub subscribes to; the group name lets any number of hub workers share the load.
HUB_SHARED_SUBSCRIPTION = f"$share/hub/{PREFIX}/+/+/#"
#: One hub worker on a broker without (persistent) shared subscriptions takes everything directly.
HUB_PLAIN_SUBSCRIPTION = f"{PREFIX}/+/+/#"
#: Retained births are not delivered to shared subscriptions (MQTT 5, 4.8.2), so workers also
#: take this one directly to learn which edges are up when they start.
HUB_STATUS_SUBSCRIPTION = f"{PREFIX}/+/+/status"


class TopicKind(StrEnum):
    """The last part of a topic, which says what its payload is."""

    STATUS = "status"
    HEARTBEAT = "heartbeat"
    TELEMETRY = "telemetry"
    EVENT = "event"
    REQ = "req"
    RESP = "resp"
    CMD = "cmd"
    CMD_ACK = "cmd/ack"


_PER_DEVICE = {TopicKind.TELEMETRY, TopicKind.EVENT}


def is_ident(value: str) -> bool:
    """Whether ``value`` is a valid school, edge or device identifier."""
    return _IDENT.fullmatch(value) is not None


def check_ident(value: str, what: str = "identifier") -> str:
    """Return ``value`` when it is a valid identifier, else raise ProtocolError."""
    if not isinstance(value, str) or not is_ident(value):
        raise ProtocolError(f"{what} {value!r} must match {IDENT_PATTERN}")
    return value


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic: whose it is and what kind of message it carries."""

    school: str
    edge: str
    kind: TopicKind
    device: str | None = None

    def __post_init__(self) -> None:
        check_ident(self.school, "school")
        check_ident(self.edge, "edge")
        if self.kind in _PER_DEVICE:
            if self.device is None:
                raise ProtocolError(f"{self.kind} topic needs a device")
            check_ident(self.device, "device")
        elif self.device is not None:
            raise ProtocolError(f"{self.kind} topic takes no device")

    def __str__(self) -> str:
        base = f"{PREFIX}/{self.school}/{self.edge}/{self.kind.value}"
        return f"{base}/{self.device}" if self.device is not None else base


def edge_base(school: str, edge: str) -> str:
    """``ss/v1/{school}/{edge}``, checked."""
    return f"{PREFIX}/{check_ident(school, 'school')}/{check_ident(edge, 'edge')}"


def status(school: str, edge: str) -> str:
    """Topic of an edge's retained birth and Last Will."""
    return str(Topic(school, edge, TopicKind.STATUS))


def heartbeat(school: str, edge: str) -> str:
    """Topic of an edge's periodic heartbeat."""
    return str(Topic(school, edge, TopicKind.HEARTBEAT))


def telemetry(school: str, edge: str, device: str) -> str:
    """Topic of one device's readings."""
    return str(Topic(school, edge, TopicKind.TELEMETRY, device))


def event(school: str, edge: str, device: str) -> str:
    """Topic of one device's events."""
    return str(Topic(school, edge, TopicKind.EVENT, device))


def req(school: str, edge: str) -> str:
    """Topic of an edge's requests to the hub."""
    return str(Topic(school, edge, TopicKind.REQ))


def resp(school: str, edge: str) -> str:
    """Topic of the hub's answers to an edge."""
    return str(Topic(school, edge, TopicKind.RESP))


def cmd(school: str, edge: str) -> str:
    """Topic of commands to an edge."""
    return str(Topic(school, edge, TopicKind.CMD))


def cmd_ack(school: str, edge: str) -> str:
    """Topic of an edge's command acknowledgements."""
    return str(Topic(school, edge, TopicKind.CMD_ACK))


def parse(topic: str) -> Topic:
    """Parse a topic string of the v1 contract; raise ProtocolError if it is not one."""
    if not isinstance(topic, str) or len(topic) > 300:
        raise ProtocolError("topic is not a string of at most 300 characters")
    parts = topic.split("/")
    if len(parts) < 5 or f"{parts[0]}/{parts[1]}" != PREFIX:
        raise ProtocolError(f"topic {topic!r} is not under {PREFIX}/{{school}}/{{edge}}/")
    school, edge, rest = parts[2], parts[3], parts[4:]
    if rest == ["cmd", "ack"]:
        return Topic(school, edge, TopicKind.CMD_ACK)
    if len(rest) == 2 and rest[0] in _PER_DEVICE:
        return Topic(school, edge, TopicKind(rest[0]), rest[1])
    if len(rest) == 1:
        try:
            kind = TopicKind(rest[0])
        except ValueError:
            raise ProtocolError(f"unknown topic kind in {topic!r}") from None
        return Topic(school, edge, kind)
    raise ProtocolError(f"unknown topic {topic!r}")
