"""Payload to card rules and one tap per presentation, without a camera."""

from __future__ import annotations

import pytest

from device_drivers.qrcam.cards import MAX_PAYLOAD, FrameTaps, card_from_payload


@pytest.mark.parametrize(
    ("payload", "card"),
    [
        (b"HS-TDN-2026-000123", "qr:HS-TDN-2026-000123"),
        ("HS-TDN-2026-000123", "qr:HS-TDN-2026-000123"),
        (b"!~", "qr:!~"),
        (b"A" * MAX_PAYLOAD, "qr:" + "A" * MAX_PAYLOAD),
    ],
)
def test_printable_payloads_become_cards(payload: bytes | str, card: str) -> None:
    assert card_from_payload(payload) == card


@pytest.mark.parametrize(
    "payload",
    [b"", b"HS TDN", b"HS-TDN\n", b"\x00abc", b"A" * (MAX_PAYLOAD + 1), "HS-TĐN-1".encode(),
     "HS-TĐN-1", b"\x7f"],
)
def test_other_payloads_are_bad_reads(payload: bytes | str) -> None:
    assert card_from_payload(payload) is None


def test_a_card_held_in_view_taps_once() -> None:
    taps = FrameTaps(rearm_s=0.5)
    got = [taps.frame([b"A"], t / 10).new_cards for t in range(20)]  # 2 s in view at 10 fps
    assert got[0] == ["qr:A"] and all(g == [] for g in got[1:])


def test_missed_frames_within_rearm_are_the_same_presentation() -> None:
    taps = FrameTaps(rearm_s=0.5)
    assert taps.frame([b"A"], 0.0).new_cards == ["qr:A"]
    assert taps.frame([], 0.1).new_cards == []  # blurred frames: no decode
    assert taps.frame([b"A"], 0.4).new_cards == []
    assert taps.frame([b"A"], 0.95).new_cards == ["qr:A"]  # away 0.55 s: re-armed


def test_a_different_card_taps_at_once_and_in_order() -> None:
    taps = FrameTaps(rearm_s=1.0)
    assert taps.frame([b"A"], 0.0).new_cards == ["qr:A"]
    result = taps.frame([b"B", b"A", b"C", b"B"], 0.1)
    assert result.new_cards == ["qr:B", "qr:C"]


def test_bad_payloads_are_counted_and_ignored() -> None:
    taps = FrameTaps(rearm_s=1.0)
    result = taps.frame([b"bad payload", b"OK", b"\xff"], 0.0)
    assert result.new_cards == ["qr:OK"] and result.bad_reads == 2
