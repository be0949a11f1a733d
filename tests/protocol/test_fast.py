"""The msgspec fast path for telemetry accepts, refuses and gives exactly what the model does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import ProtocolError, Telemetry
from protocol.decode import MAX_PAYLOAD, decode_as
from protocol.fast import FastTelemetry, _fast, decode_telemetry

_NAMES = st.one_of(
    st.sampled_from(["co2_ppm", "temp_c", "rh_pct", "lux", "a", "x" * 64, "a" * 65, "Co2",
                     "1x", "_x", "x-y", "x\n", "", "é"]),
    st.from_regex(r"[a-z][a-z0-9_]{0,63}", fullmatch=True),
    st.text(max_size=8),
)
_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.booleans(),
    st.none(), st.text(max_size=3), st.just(10**30), st.just(-0.0),
)
_TS = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from([
        "2026-11-20T07:30:00+07:00", "2026-11-20T07:30:00Z", "2026-11-20T07:30:00.5Z",
        "2026-11-20t07:30:00z", "2026-11-20 07:30:00Z", "2026-11-20T07:30:00",
        "2026-11-20T24:00:00Z", "2026-11-20T07:30:60Z", "2026-02-30T07:30:00Z",
        "2026-11-20T07:30:00+24:00", "2026-11-20T07:30:00+23:59", "2026-11-20T07:30:00-00:00",
        "2026-11-20T07:30:00.1234567Z", "2026-11-20T07:30:00+0700", "2026-11-20T07:30Z",
        "2026-11-20T07:30:00Z\n", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999-23:59",
    ]),
    st.integers(), st.none(),
)
_IDS = st.one_of(
    st.sampled_from(["env-1", "a", "0", "a" * 64, "a" * 65, "-a", "Env", "env_1", "env\n", ""]),
    st.from_regex(r"[a-z0-9][a-z0-9-]{0,63}", fullmatch=True), st.integers(), st.none(),
)


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    """Mostly valid telemetry with a few fields changed, dropped or added, as JSON bytes."""
    message: dict[str, Any] = {
        "v": draw(st.sampled_from([1, 1, 1, 2, 0, 1.0, True, "1"])),
        "id": draw(_IDS),
        "ts": draw(_TS),
        "seq": draw(st.one_of(st.integers(min_value=0, max_value=2**63 + 5),
                              st.integers(max_value=-1), st.floats(), st.booleans())),
        "values": draw(st.dictionaries(_NAMES, _NUMBERS, max_size=66)),
    }
    for key in draw(st.lists(st.sampled_from(list(message)), max_size=2)):
        message.pop(key, None)
    if draw(st.booleans()):
        message[draw(st.sampled_from(["extra", "note", "v2"]))] = draw(
            st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3)))
    text = json.dumps(message, allow_nan=True, ensure_ascii=draw(st.booleans()))
    if draw(st.integers(0, 9)) == 0:  # a little raw damage: duplicates, truncation, spaces
        text = draw(st.sampled_from([
            text[:-1], text + " ", "\n" + text, text.replace('"values"', '"values":{},"values"', 1),
            text + "x", text.replace(":", ": ", 1)]))
    return text.encode()


def _model(payload: bytes) -> Telemetry | None:
    try:
        return decode_as(Telemetry, payload)
    except ProtocolError:
        return None


def _same(fast: Any, model: Telemetry) -> None:
    assert (fast.v, fast.id, fast.seq) == (model.v, model.id, model.seq)
    assert fast.ts == model.ts and fast.ts.utcoffset() == model.ts.utcoffset()
    assert list(fast.values.items()) == list(model.values.items())
    assert all(type(value) is float for value in fast.values.values())


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads())
def test_fast_path_agrees_with_the_model(payload: bytes) -> None:
    model = _model(payload)
    fast = _fast(payload)
    if fast is not None:
        assert model is not None, "fast path accepted what the model refuses"
        _same(fast, model)
    try:
        decoded = decode_telemetry(payload)
    except ProtocolError:
        assert model is None
    else:
        assert model is not None
        _same(decoded, model)


def test_plain_telemetry_takes_the_fast_path() -> None:
    payload = (b'{"v":1,"id":"env-1","ts":"2026-11-20T07:30:00.123+07:00","seq":7,'
               b'"values":{"co2_ppm":812.5,"temp_c":29}}')
    message = decode_telemetry(payload)
    assert isinstance(message, FastTelemetry)
    _same(message, decode_as(Telemetry, payload))


@pytest.mark.parametrize("payload", [
    b'{"id":"env-1","ts":"2026-11-20T07:30:00Z","seq":1,"values":{"x":1},"note":"hi"}',
    b'{"id":"env-1","ts":"2026-11-20 07:30:00Z","seq":1,"values":{"x":1}}',
])
def test_unusual_but_valid_telemetry_goes_through_the_model(payload: bytes) -> None:
    assert _fast(payload) is None
    assert isinstance(decode_telemetry(payload), Telemetry)


@pytest.mark.parametrize("payload", [
    b'{"id":"env-1","ts":"2026-11-20T07:30:00Z","seq":1,"values":{"x":1e400}}',
    b'{"id":"env-1","ts":"2026-11-20T07:30:00","seq":1,"values":{"x":1}}',
    b'{"id":"env-1","ts":"2026-11-20T07:30:00Z","seq":-1,"values":{"x":1}}',
    b'{"id":"env-1","ts":"2026-11-20T07:30:00Z","seq":1,"values":{}}',
    b'{"id":"env-1","ts":"2026-11-20T07:30:00Z","seq":1,"values":{"x":true}}',
    b'{"id":"env-1\\n","ts":"2026-11-20T07:30:00Z","seq":1,"values":{"x":1}}',
    b'{"v":2,"id":"env-1","ts":"2026-11-20T07:30:00Z","seq":1,"values":{"x":1}}',
    b'{"id":"env-1","ts":"2026-11-20T07:30:00Z","seq":1,"values":{"x":1},"pad":"'
    + b"x" * MAX_PAYLOAD + b'"}',
])
def test_bad_telemetry_is_refused(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_telemetry(payload)
