"""RDM6300 parser against the hand-written golden frames."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_drivers.base import FrameError
from device_drivers.rdm6300 import frames

FIXTURES = Path(__file__).parent / "fixtures"


def fx(name: str) -> bytes:
    """A golden frame by file name (without .bin)."""
    return (FIXTURES / f"{name}.bin").read_bytes()


GOOD = [
    ("card_62E3086CED", "em:62E3086CED", 0x62, 0xE3086CED),
    ("card_0F00A1B2C3", "em:0F00A1B2C3", 0x0F, 0x00A1B2C3),
    ("card_0123456789", "em:0123456789", 0x01, 0x23456789),
    ("card_0F00A1B2C3_lowercase", "em:0F00A1B2C3", 0x0F, 0x00A1B2C3),
]


@pytest.mark.parametrize(("name", "card", "version", "card_id"), GOOD)
def test_golden_frames_decode(name: str, card: str, version: int, card_id: int) -> None:
    frame = frames.decode_frame(fx(name))
    assert (frame.card, frame.version, frame.card_id) == (card, version, card_id)


@pytest.mark.parametrize("name", ["card_62E3086CED", "card_0F00A1B2C3", "card_0123456789"])
def test_encoder_gives_the_golden_frame(name: str) -> None:
    frame = frames.decode_frame(fx(name))
    assert frames.encode_frame(frame.data) == fx(name)


def test_bad_checksum_on_the_wire_is_an_error_and_never_a_card() -> None:
    with pytest.raises(FrameError, match="checksum"):
        frames.decode_frame(fx("card_0F00A1B2C3_bad_checksum"))
    dec = frames.FrameDecoder()
    assert dec.feed(fx("card_0F00A1B2C3_bad_checksum") * 5) == []
    assert dec.frames_bad == 5 and dec.frames_ok == 0


def test_bad_markers_and_characters_raise() -> None:
    good = fx("card_0F00A1B2C3")
    with pytest.raises(FrameError, match="markers"):
        frames.decode_frame(good[:-1] + b"\x04")
    with pytest.raises(FrameError, match="non-hex"):
        frames.decode_frame(good[:3] + b"G" + good[4:])
    with pytest.raises(FrameError, match="14 bytes"):
        frames.decode_frame(good[:-1])


def test_stream_with_noise_truncation_and_bad_frame_recovers_good_frames() -> None:
    stream = (
        fx("garbage")
        + fx("card_62E3086CED")
        + fx("truncated")
        + fx("card_0F00A1B2C3")
        + fx("card_0F00A1B2C3_bad_checksum")
        + fx("garbage")
        + fx("card_0123456789")
    )
    dec = frames.FrameDecoder()
    got = dec.feed(stream)
    assert [f.card for f in got] == ["em:62E3086CED", "em:0F00A1B2C3", "em:0123456789"]
    assert dec.frames_ok == 3
    assert dec.frames_bad >= 2  # the truncated and the bad-checksum frames
    assert dec.last_error is not None


def test_byte_by_byte_equals_whole() -> None:
    stream = fx("garbage") + fx("card_62E3086CED") + fx("truncated") + fx("card_0123456789")
    whole = [f.card for f in frames.FrameDecoder().feed(stream)]
    dec = frames.FrameDecoder()
    single = [f.card for b in stream for f in dec.feed(bytes([b]))]
    assert single == whole == ["em:62E3086CED", "em:0123456789"]


def test_partial_frame_is_kept() -> None:
    dec = frames.FrameDecoder()
    good = fx("card_0F00A1B2C3")
    assert dec.feed(good[:7]) == []
    assert [f.card for f in dec.feed(good[7:])] == ["em:0F00A1B2C3"]
    assert dec.bytes_discarded == 0


@given(st.binary(max_size=400))
def test_random_bytes_never_raise_and_never_give_a_card(data: bytes) -> None:
    dec = frames.FrameDecoder()
    assert dec.feed(data) == []


@given(
    st.lists(st.tuples(st.binary(max_size=20), st.binary(min_size=5, max_size=5)), max_size=8),
    st.integers(0, 2**32),
)
def test_good_frames_among_noise_all_recovered_in_random_chunks(
    items: list[tuple[bytes, bytes]], seed: int
) -> None:
    # Noise without 02 cannot forge a start byte, so every frame must come through.
    stream = b""
    want = []
    for noise, data in items:
        stream += noise.replace(b"\x02", b"\x00") + frames.encode_frame(data)
        want.append("em:" + data.hex().upper())
    rng = random.Random(seed)
    dec = frames.FrameDecoder()
    got = []
    i = 0
    while i < len(stream):
        n = rng.randint(1, 13)
        got += [f.card for f in dec.feed(stream[i : i + n])]
        i += n
    assert got == want
