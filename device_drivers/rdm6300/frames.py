"""RDM6300 frames: 125 kHz EM4100 card numbers as ASCII hex over UART (pure; no I/O).

The module streams, while a card is in the field, 14-byte frames ``02 D0..D9 C0 C1 03``:
``D0..D9`` are ten ASCII hex characters (the version/customer byte and the 4-byte card
number, 5 bytes), ``C0 C1`` two ASCII hex characters of the XOR of those five bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from device_drivers.base import FrameError
from device_drivers.framing import ResyncDecoder

STX = 0x02
ETX = 0x03
FRAME_LEN = 14
DATA_CHARS = 10
CARD_PREFIX = "em:"

_HEX = frozenset(b"0123456789ABCDEFabcdef")


def checksum(data: bytes) -> int:
    """XOR of the five data bytes."""
    value = 0
    for b in data:
        value ^= b
    return value


@dataclass(frozen=True, slots=True)
class Frame:
    """One card number as the reader sent it: 5 data bytes (version byte + 4-byte id)."""

    data: bytes

    @property
    def version(self) -> int:
        """The version (customer) byte."""
        return self.data[0]

    @property
    def card_id(self) -> int:
        """The 32-bit card number, as printed on many cards in decimal."""
        return int.from_bytes(self.data[1:], "big")

    @property
    def card(self) -> str:
        """The wire form, ``em:`` and ten upper-case hex characters."""
        return CARD_PREFIX + self.data.hex().upper()


def _hex_byte(chars: bytes) -> int:
    return int(chars.decode("ascii"), 16)


def decode_frame(raw: bytes) -> Frame:
    """Parse one 14-byte frame; raises FrameError on bad length, markers, characters or XOR."""
    if len(raw) != FRAME_LEN:
        raise FrameError(f"RDM6300 frame must be {FRAME_LEN} bytes, got {len(raw)}")
    if raw[0] != STX or raw[-1] != ETX:
        raise FrameError(f"bad RDM6300 markers {raw[0]:02X}..{raw[-1]:02X}")
    body = raw[1:13]
    if not all(b in _HEX for b in body):
        raise FrameError(f"RDM6300 frame holds non-hex characters {body!r}")
    data = bytes(_hex_byte(body[i : i + 2]) for i in range(0, DATA_CHARS, 2))
    sent = _hex_byte(body[DATA_CHARS:])
    want = checksum(data)
    if sent != want:
        raise FrameError(f"RDM6300 checksum {sent:02X} != {want:02X} for {data.hex().upper()}")
    return Frame(data=data)


def _frame_len(header: bytes) -> int | None:
    # A 02 not followed by a hex character cannot start a frame: skip it without counting.
    return FRAME_LEN if header[1] in _HEX else None


class FrameDecoder(ResyncDecoder[Frame]):
    """Turns the reader's byte stream into card frames, resyncing after noise."""

    def __init__(self) -> None:
        super().__init__(bytes([STX]), header_len=2, frame_len=_frame_len, decode=decode_frame)


def encode_frame(data: bytes) -> bytes:
    """The 14 bytes the reader sends for 5 data bytes (for tests and tools)."""
    if len(data) != 5:
        raise ValueError("an RDM6300 frame carries exactly 5 data bytes")
    text = data.hex().upper() + f"{checksum(data):02X}"
    return bytes([STX]) + text.encode("ascii") + bytes([ETX])
