"""Message models: what the contract accepts, what it refuses, and that decoding raises one type."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import (
    MESSAGES,
    Code,
    Pay,
    ProtocolError,
    Response,
    Status,
    Tap,
    Telemetry,
    TopicKind,
    decode,
    now,
    salvage_id,
)

TS = "2026-11-23T07:05:00+07:00"


def telemetry(**overrides: object) -> bytes:
    body = {"v": 1, "id": "co2-1", "ts": TS, "seq": 7, "values": {"co2_ppm": 812, "temp_c": 24.5}}
    body.update(overrides)
    return json.dumps(body).encode()


def test_telemetry_round_trip() -> None:
    message = decode(TopicKind.TELEMETRY, telemetry())
    assert isinstance(message, Telemetry)
    assert message.values == {"co2_ppm": 812.0, "temp_c": 24.5}
    assert message.ts.utcoffset() is not None and message.ts.utcoffset().total_seconds() == 7 * 3600
    assert decode(TopicKind.TELEMETRY, message.to_json()) == message


@pytest.mark.parametrize(
    "overrides",
    [
        {"v": 2},
        {"id": "CO2"},
        {"ts": "2026-11-23T07:05:00"},
        {"ts": 1795000000},
        {"seq": -1},
        {"seq": "7"},
        {"values": {}},
        {"values": {"co2_ppm": "812"}},
        {"values": {"co2_ppm": True}},
        {"values": {"CO2": 1}},
    ],
)
def test_telemetry_refuses_wrong_types(overrides: dict[str, object]) -> None:
    with pytest.raises(ProtocolError):
        decode(TopicKind.TELEMETRY, telemetry(**overrides))


def test_nan_and_huge_payloads_refused() -> None:
    with pytest.raises(ProtocolError):
        decode(TopicKind.TELEMETRY, telemetry().replace(b"812", b"NaN"))
    with pytest.raises(ProtocolError, match="exceeds"):
        decode(TopicKind.TELEMETRY, b"{" + b" " * 1_000_000 + b"}")


def test_requests_are_discriminated_by_type() -> None:
    rid = uuid.uuid4()
    tap = Tap(id=rid, ts=now(), device="door-1", card="nfc:04A1B2C3D4E5F6")
    assert decode(TopicKind.REQ, tap.to_json()) == tap
    pay = Pay(id=rid, ts=now(), device="till-1", card="em:0F00A1B2C3", amount=25000, offline=True)
    assert decode(TopicKind.REQ, pay.to_json()) == pay


@pytest.mark.parametrize(
    "card", ["em:0f00a1b2c3", "em:0F00A1B2", "nfc:04A1B2", "rfid:1234", "qr:", "qr:has space"]
)
def test_cards_must_follow_the_written_form(card: str) -> None:
    body = {
        "v": 1,
        "id": str(uuid.uuid4()),
        "ts": TS,
        "device": "door-1",
        "type": "tap",
        "card": card,
    }
    with pytest.raises(ProtocolError):
        decode(TopicKind.REQ, json.dumps(body).encode())


def test_money_is_whole_dong() -> None:
    body = {"v": 1, "id": str(uuid.uuid4()), "ts": TS, "device": "till-1", "type": "pay"}
    for amount in (25000.5, -1, 0):
        with pytest.raises(ProtocolError):
            decode(
                TopicKind.REQ,
                json.dumps({**body, "card": "em:0F00A1B2C3", "amount": amount}).encode(),
            )


def test_status_lists_devices() -> None:
    body = {
        "v": 1,
        "ts": TS,
        "state": "online",
        "fw": "0.1.0",
        "devices": [{"id": "co2-1", "kind": "co2", "model": "MH-Z19B", "room": "10A1"}],
    }
    status = decode(TopicKind.STATUS, json.dumps(body).encode())
    assert isinstance(status, Status) and status.devices[0].room == "10A1"


def test_every_code_speaks_both_languages() -> None:
    assert set(MESSAGES) == set(Code)
    for vi, en in MESSAGES.values():
        assert vi and en and vi != en
    answer = Response.for_code(uuid.uuid4(), Code.DECLINED_INSUFFICIENT_FUNDS, {"balance": 1000})
    assert answer.ok is False and answer.msg.vi == "Số dư không đủ"
    assert Response.for_code(uuid.uuid4(), Code.APPROVED).ok is True


def test_salvage_id_of_a_broken_request() -> None:
    rid = uuid.uuid4()
    assert salvage_id(f'{{"id": "{rid}", "type": "pay", "amount": "lots"'.encode()) == rid
    assert salvage_id(b'{"type": "pay"}') is None
    assert salvage_id(b'{"id": "not-a-uuid-at-all-not-a-uuid-at-all"}') is None


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=512), kind=st.sampled_from(list(TopicKind)))
def test_random_bytes_raise_only_protocol_error(payload: bytes, kind: TopicKind) -> None:
    try:
        decode(kind, payload)
    except ProtocolError:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    body=st.dictionaries(
        st.sampled_from(["v", "id", "ts", "seq", "values", "type", "card", "amount", "state"]),
        json_values,
    ),
    kind=st.sampled_from(list(TopicKind)),
)
def test_random_json_raises_only_protocol_error(body: dict[str, object], kind: TopicKind) -> None:
    try:
        decode(kind, json.dumps(body).encode())
    except ProtocolError:
        pass
