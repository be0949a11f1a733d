"""Line protocol as strings: escaping, nanosecond timestamps, ``seq`` as an integer field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.ingest.devicemap import DeviceMap
from hub.ingest.lineproto import escape_measurement, escape_tag, line, timestamp_ns
from hub.ingest.telemetry import LineBuilder, telemetry_line
from protocol import Telemetry
from protocol.fast import decode_telemetry
from protocol.topics import Topic, TopicKind

ICT = timezone(timedelta(hours=7))


def test_timestamp_is_exact_nanoseconds_from_an_offset_time() -> None:
    ts = datetime(2026, 11, 20, 7, 30, 0, 123456, tzinfo=ICT)
    assert timestamp_ns(ts) == 1_795_134_600_123_456_000  # date -u -d 2026-11-20T00:30:00Z +%s
    assert timestamp_ns(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert timestamp_ns(ts) == timestamp_ns(ts.astimezone(UTC))


def test_escaping_follows_the_line_protocol_rules() -> None:
    assert escape_measurement("env sensor,a=b") == r"env\ sensor\,a=b"
    assert escape_tag("Phòng 10A1,=x") == r"Phòng\ 10A1\,\=x"


def test_line_has_sorted_tags_float_fields_integer_seq_and_ns_time() -> None:
    ts = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    text = line("env", {"school": "lhp", "room": "Lab 2", "edge": "e1", "device": "d1"},
                {"co2_ppm": 812, "temp_c": 29.5}, 12, ts)
    assert text == (
        r"env,device=d1,edge=e1,room=Lab\ 2,school=lhp co2_ppm=812.0,temp_c=29.5,seq=12i "
        f"{timestamp_ns(ts)}"
    )


def test_empty_room_tag_is_left_out() -> None:
    text = line("env", {"school": "s", "room": ""}, {"lux": 300.0}, 0, datetime.now(UTC))
    assert text.startswith("env,school=s lux=300.0,seq=0i ")


def test_non_finite_values_are_refused() -> None:
    with pytest.raises(ValueError):
        line("env", {}, {"lux": float("nan")}, 0, datetime.now(UTC))


def test_measurement_is_the_kind_from_the_device_map_else_unknown() -> None:
    devices = DeviceMap()
    topic = Topic("lhp", "e1", TopicKind.TELEMETRY, "co2-1")
    msg = Telemetry(id="co2-1", ts=datetime(2026, 1, 1, tzinfo=UTC), seq=3, values={"co2_ppm": 1.0})
    assert telemetry_line(topic, msg, devices).startswith("unknown,device=co2-1,edge=e1,school=lhp ")
    devices.set_device("lhp", "e1", "co2-1", "env", "10A1")
    assert telemetry_line(topic, msg, devices).startswith(
        "env,device=co2-1,edge=e1,room=10A1,school=lhp co2_ppm=1.0,seq=3i "
    )


def _point(text: str) -> tuple[str, dict[str, str], str]:
    """(measurement and tags, fields by name, timestamp) of one line (no spaces in tags here)."""
    head, fields, ts = text.split(" ")
    return head, dict(field.split("=", 1) for field in fields.split(",")), ts


_NAMES = st.sampled_from(["co2_ppm", "temp_c", "rh_pct", "pm2_5", "lux"])
_STEPS = st.lists(st.tuples(
    st.sampled_from(["co2-1", "pm-1"]),
    st.dictionaries(_NAMES, st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=4),
    st.integers(0, 2**40),
    st.sampled_from([None, ("env", "10A1"), ("air", "Phòng%lab"), ("env", "11C3")]),
), min_size=1, max_size=25)


@settings(max_examples=300, deadline=None)
@given(_STEPS)
def test_cached_lines_are_the_points_telemetry_line_gives(steps: list) -> None:
    """The hot path's caches (per topic, per device map version) never give a stale point."""
    devices = DeviceMap()
    builder = LineBuilder(devices)
    topics = {device: Topic("lhp", "e1", TopicKind.TELEMETRY, device)
              for device in ("co2-1", "pm-1")}
    for device, values, seq, retag in steps:
        if retag is not None:
            devices.set_device("lhp", "e1", device, *retag)
        ts = datetime(2026, 11, 20, tzinfo=ICT) + timedelta(microseconds=seq)
        payload = json.dumps({"id": device, "ts": ts.isoformat(), "seq": seq,
                              "values": values}).encode()
        message = decode_telemetry(payload)
        topic = topics[device]
        assert _point(builder.line(topic, message)) == _point(
            telemetry_line(topic, message, devices))
