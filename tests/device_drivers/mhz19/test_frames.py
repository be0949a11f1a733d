"""MH-Z19B parser and encoders against the hand-written golden frames."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_drivers.base import FrameError
from device_drivers.mhz19 import frames

FIXTURES = Path(__file__).parent / "fixtures"


def fx(name: str) -> bytes:
    """A golden frame by file name (without .bin)."""
    return (FIXTURES / f"{name}.bin").read_bytes()


GOOD = [("answer_608ppm_31c", 608, 31), ("answer_1234ppm_27c", 1234, 27)]


@pytest.mark.parametrize(("name", "co2", "temp"), GOOD)
def test_golden_answers_decode(name: str, co2: int, temp: int) -> None:
    frame = frames.decode_frame(fx(name))
    assert frame.command == frames.CMD_READ_CO2
    assert (frame.co2_ppm, frame.temp_c) == (co2, temp)
    assert frames.checksum(fx(name)) == fx(name)[8]


def test_bad_checksum_raises_frame_error() -> None:
    with pytest.raises(FrameError, match="checksum"):
        frames.decode_frame(fx("answer_bad_checksum"))


def test_encoders_match_datasheet_commands() -> None:
    assert frames.encode_read_co2() == fx("cmd_read_co2")
    assert frames.encode_zero_calibration() == fx("cmd_zero_calibration")
    assert frames.encode_span_calibration(2000) == fx("cmd_span_2000")
    assert frames.encode_abc(True) == fx("cmd_abc_on")
    assert frames.encode_abc(False) == fx("cmd_abc_off")
    assert frames.encode_detection_range(2000) == fx("cmd_range_2000")
    assert frames.encode_detection_range(5000) == fx("cmd_range_5000")
    assert frames.encode_answer(0x86, fx("answer_608ppm_31c")[2:8]) == fx("answer_608ppm_31c")


def test_stream_with_garbage_and_bad_frame_recovers_good_frames() -> None:
    stream = fx("garbage") + fx("answer_608ppm_31c") + fx("answer_bad_checksum") + fx("garbage")
    stream += fx("answer_1234ppm_27c")
    dec = frames.FrameDecoder()
    got = dec.feed(stream)
    assert [f.co2_ppm for f in got] == [608, 1234]
    assert dec.frames_ok == 2
    assert dec.frames_bad == 1
    assert dec.bytes_discarded == len(stream) - 18
    assert dec.last_error is not None


def test_byte_by_byte_equals_whole() -> None:
    stream = fx("garbage") + fx("answer_608ppm_31c") + fx("answer_1234ppm_27c")
    dec = frames.FrameDecoder()
    got = [f for b in stream for f in dec.feed(bytes([b]))]
    assert [(f.co2_ppm, f.temp_c) for f in got] == [(608, 31), (1234, 27)]


def test_partial_frame_is_kept() -> None:
    dec = frames.FrameDecoder()
    good = fx("answer_608ppm_31c")
    assert dec.feed(good[:5]) == []
    assert [f.co2_ppm for f in dec.feed(good[5:])] == [608]
    assert dec.bytes_discarded == 0


@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    dec = frames.FrameDecoder()
    got = dec.feed(data)
    assert dec.frames_ok == len(got)


@given(
    st.lists(
        st.tuples(st.binary(max_size=20), st.integers(0, 5000), st.integers(0, 100)), max_size=8
    ),
    st.integers(0, 2**32),
)
def test_good_frames_among_garbage_all_recovered(
    items: list[tuple[bytes, int, int]], seed: int
) -> None:
    # Noise without 0xFF cannot forge a start byte, so every frame must come through.
    stream = b""
    want = []
    for noise, co2, temp in items:
        answer = frames.encode_answer(0x86, bytes([co2 >> 8, co2 & 0xFF, temp + 40, 0, 0, 0]))
        stream += noise.replace(b"\xff", b"\x00") + answer
        want.append((co2, temp))
    rng = random.Random(seed)
    dec = frames.FrameDecoder()
    got = []
    i = 0
    while i < len(stream):
        n = rng.randint(1, 13)
        got += dec.feed(stream[i : i + n])
        i += n
    assert [(f.co2_ppm, f.temp_c) for f in got] == want
