"""PMS5003 parser and encoders against the hand-written golden frames."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_drivers.base import FrameError
from device_drivers.pms5003 import frames

FIXTURES = Path(__file__).parent / "fixtures"


def fx(name: str) -> bytes:
    """A golden frame by file name (without .bin)."""
    return (FIXTURES / f"{name}.bin").read_bytes()


def test_clean_air_frame_decodes() -> None:
    frame = frames.decode_frame(fx("frame_clean_air"))
    assert isinstance(frame, frames.DataFrame)
    assert frame.pm_cf1 == (5, 8, 10)
    assert frame.pm_atm == (5, 8, 10)
    assert frame.counts == (1011, 290, 50, 4, 2, 0)
    assert frame.words[12] == 0x9700


def test_dirty_air_frame_keeps_cf1_and_atm_apart() -> None:
    frame = frames.decode_frame(fx("frame_dirty_air"))
    assert isinstance(frame, frames.DataFrame)
    assert frame.pm_cf1 == (40, 62, 75)
    assert frame.pm_atm == (33, 48, 60)
    assert frame.counts == (8000, 2400, 520, 60, 12, 3)
    assert frames.checksum(fx("frame_dirty_air")[:30]) == 0x039D


def test_ack_frame_decodes() -> None:
    assert frames.decode_frame(fx("ack_mode_passive")) == frames.AckFrame(command=0xE1, data=0x00)


def test_bad_checksum_raises_frame_error() -> None:
    with pytest.raises(FrameError, match="check code"):
        frames.decode_frame(fx("frame_bad_checksum"))


def test_encoders_match_datasheet_commands() -> None:
    assert frames.encode_read_passive() == fx("cmd_read_passive")
    assert frames.encode_mode(active=False) == fx("cmd_mode_passive")
    assert frames.encode_mode(active=True) == fx("cmd_mode_active")
    assert frames.encode_sleep(asleep=True) == fx("cmd_sleep")
    assert frames.encode_sleep(asleep=False) == fx("cmd_wakeup")
    words = frames.decode_frame(fx("frame_dirty_air")).words  # type: ignore[union-attr]
    assert frames.encode_data_frame(words) == fx("frame_dirty_air")


def test_stream_with_garbage_and_bad_frame_recovers_good_frames() -> None:
    stream = (
        fx("garbage") + fx("frame_clean_air") + fx("frame_bad_checksum") + fx("garbage")
        + fx("ack_mode_passive") + fx("frame_dirty_air")
    )  # fmt: skip
    dec = frames.FrameDecoder()
    got = dec.feed(stream)
    assert [type(f).__name__ for f in got] == ["DataFrame", "AckFrame", "DataFrame"]
    assert [f.pm_atm for f in got if isinstance(f, frames.DataFrame)] == [(5, 8, 10), (33, 48, 60)]
    assert dec.frames_bad == 1
    assert dec.bytes_discarded == len(stream) - 32 - 8 - 32


def test_byte_by_byte_equals_whole() -> None:
    stream = fx("garbage") + fx("frame_clean_air") + fx("frame_dirty_air")
    dec = frames.FrameDecoder()
    got = [f for b in stream for f in dec.feed(bytes([b]))]
    assert [f.pm_atm for f in got if isinstance(f, frames.DataFrame)] == [(5, 8, 10), (33, 48, 60)]


def test_partial_frame_is_kept() -> None:
    dec = frames.FrameDecoder()
    assert dec.feed(fx("frame_clean_air")[:1]) == []
    assert dec.feed(fx("frame_clean_air")[1:20]) == []
    assert len(dec.feed(fx("frame_clean_air")[20:])) == 1
    assert dec.bytes_discarded == 0


@given(st.binary(max_size=600))
def test_random_bytes_never_raise(data: bytes) -> None:
    dec = frames.FrameDecoder()
    got = dec.feed(data)
    assert dec.frames_ok == len(got)


pm = st.integers(0, 999)


@given(
    st.lists(st.tuples(st.binary(max_size=40), pm, pm, pm), max_size=6),
    st.integers(0, 2**32),
)
def test_good_frames_among_garbage_all_recovered(
    items: list[tuple[bytes, int, int, int]], seed: int
) -> None:
    # Noise without 0x42 cannot forge a start, so every frame must come through.
    stream = b""
    want = []
    for noise, a, b, c in items:
        words = (a, b, c, a, b, c, 100, 50, 20, 5, 1, 0, 0x9700)
        stream += noise.replace(b"\x42", b"\x00") + frames.encode_data_frame(words)
        want.append((a, b, c))
    rng = random.Random(seed)
    dec = frames.FrameDecoder()
    got = []
    i = 0
    while i < len(stream):
        n = rng.randint(1, 40)
        got += dec.feed(stream[i : i + n])
        i += n
    assert [f.pm_atm for f in got if isinstance(f, frames.DataFrame)] == want
    assert dec.frames_bad == 0
