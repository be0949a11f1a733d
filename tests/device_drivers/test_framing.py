"""The shared resyncing decoder on a toy protocol: 3-byte start, length byte, sum check."""

from __future__ import annotations

from device_drivers.base import FrameError
from device_drivers.framing import ResyncDecoder

START = b"\xaa\xbb\xcc"


def toy_frame(payload: bytes) -> bytes:
    """START, payload length, payload, 8-bit sum of the payload."""
    return START + bytes([len(payload)]) + payload + bytes([sum(payload) & 0xFF])


def toy_len(header: bytes) -> int | None:
    # Payloads longer than 8 bytes do not exist in the toy protocol.
    return len(START) + 2 + header[3] if header[3] <= 8 else None


def toy_decode(raw: bytes) -> bytes:
    payload = raw[4:-1]
    if sum(payload) & 0xFF != raw[-1]:
        raise FrameError("toy check")
    return payload


def decoder() -> ResyncDecoder[bytes]:
    """A decoder for the toy protocol."""
    return ResyncDecoder(START, header_len=4, frame_len=toy_len, decode=toy_decode)


def test_resyncs_after_garbage_impossible_header_and_bad_check() -> None:
    bad = bytearray(toy_frame(b"xy"))
    bad[-1] ^= 0xFF
    stream = b"\x01\xaa\x02" + toy_frame(b"one") + START + b"\x63" + bytes(bad) + toy_frame(b"two")
    dec = decoder()
    assert dec.feed(stream) == [b"one", b"two"]
    assert (dec.frames_ok, dec.frames_bad) == (2, 1)
    assert dec.bytes_discarded == len(stream) - len(toy_frame(b"one")) - len(toy_frame(b"two"))
    assert isinstance(dec.last_error, FrameError)


def test_a_start_split_across_reads_is_kept() -> None:
    # Garbage ends with the first two bytes of the start; the rest arrives in the next read.
    frame = toy_frame(b"hi")
    dec = decoder()
    assert dec.feed(b"\x00\x01" + frame[:2]) == []
    assert dec.bytes_discarded == 2
    assert dec.feed(frame[2:]) == [b"hi"]
    assert dec.bytes_discarded == 2


def test_byte_by_byte_equals_whole() -> None:
    stream = b"\xaa\xaa\xbb" + toy_frame(b"a") + b"\xcc" + toy_frame(b"bcd") + toy_frame(b"")
    whole = decoder().feed(stream)
    dec = decoder()
    assert [f for b in stream for f in dec.feed(bytes([b]))] == whole == [b"a", b"bcd", b""]

