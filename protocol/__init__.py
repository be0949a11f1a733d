"""The v1 wire contract: topics, messages, result codes. No I/O lives here."""

from protocol.codes import MESSAGES, Code
from protocol.decode import decode, decode_as, decode_request, salvage_id
from protocol.errors import ProtocolError
from protocol.messages import (
    VERSION,
    Checkin,
    Checkout,
    Command,
    CommandAck,
    DeviceHealth,
    DeviceInfo,
    EdgeState,
    Event,
    Heartbeat,
    LocalizedText,
    Pay,
    Renew,
    Request,
    Response,
    Status,
    Tap,
    Telemetry,
    now,
)
from protocol.topics import Topic, TopicKind

__all__ = [
    "MESSAGES",
    "VERSION",
    "Checkin",
    "Checkout",
    "Code",
    "Command",
    "CommandAck",
    "DeviceHealth",
    "DeviceInfo",
    "EdgeState",
    "Event",
    "Heartbeat",
    "LocalizedText",
    "Pay",
    "ProtocolError",
    "Renew",
    "Request",
    "Response",
    "Status",
    "Tap",
    "Telemetry",
    "Topic",
    "TopicKind",
    "decode",
    "decode_as",
    "decode_request",
    "now",
    "salvage_id",
]
