"""Topic builders and the validating parser."""

import pytest

from protocol import topics
from protocol.errors import ProtocolError
from protocol.topics import Topic, TopicKind


def test_builders_and_parse_round_trip() -> None:
    built = [
        topics.status("lhp", "r101"),
        topics.heartbeat("lhp", "r101"),
        topics.telemetry("lhp", "r101", "co2-1"),
        topics.event("lhp", "r101", "board-1"),
        topics.req("lhp", "r101"),
        topics.resp("lhp", "r101"),
        topics.cmd("lhp", "r101"),
        topics.cmd_ack("lhp", "r101"),
    ]
    assert built[2] == "ss/v1/lhp/r101/telemetry/co2-1"
    assert built[7] == "ss/v1/lhp/r101/cmd/ack"
    for text in built:
        assert str(topics.parse(text)) == text


def test_parse_gives_parts() -> None:
    assert topics.parse("ss/v1/thpt-ndu/lab-2/telemetry/pm-1") == Topic(
        "thpt-ndu", "lab-2", TopicKind.TELEMETRY, "pm-1"
    )


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "ss/v2/lhp/r101/status",
        "ss/v1/LHP/r101/status",
        "ss/v1/lhp/r101/telemetry",
        "ss/v1/lhp/r101/status/extra",
        "ss/v1/lhp/r101/unknown",
        "ss/v1/lhp/-r101/status",
        "ss/v1/lhp/r101/telemetry/Bad_Device",
        "ss/v1/lhp/" + "x" * 65 + "/status",
        "ss/v1/lhp/r101/cmd/nack",
    ],
)
def test_parse_refuses_what_is_not_the_contract(bad: str) -> None:
    with pytest.raises(ProtocolError):
        topics.parse(bad)


def test_builders_refuse_bad_identifiers() -> None:
    with pytest.raises(ProtocolError, match="school"):
        topics.status("Lê Hồng Phong", "r101")
    with pytest.raises(ProtocolError, match="device"):
        topics.telemetry("lhp", "r101", "co2/1")
