"""Plantower PMS5003 frames: 32-byte data frames and 7-byte commands (pure; no I/O).

Plantower PMS5003 data manual v2.3, "Appendix I: transport protocol": a frame is
``42 4D``, a big-endian frame length (2 x 13 data words + 2 check bytes = 28), 13
big-endian u16 data words and a check code = 16-bit sum of every byte before it.
Commands (Appendix II) are ``42 4D CMD DATAH DATAL LRCH LRCL`` with LRC = sum of the first 5 bytes.
The sensor acknowledges a mode or sleep command with a short frame of length 4
(``42 4D 00 04 CMD DATA CHK``); the manual does not list it but sensors send it.
"""

from __future__ import annotations

from dataclasses import dataclass

from device_drivers.base import FrameError
from device_drivers.framing import ResyncDecoder

START = b"\x42\x4d"
DATA_LENGTH = 28
ACK_LENGTH = 4
DATA_FRAME_LEN = 4 + DATA_LENGTH
ACK_FRAME_LEN = 4 + ACK_LENGTH
_LENGTHS = {DATA_LENGTH: DATA_FRAME_LEN, ACK_LENGTH: ACK_FRAME_LEN}

CMD_READ_PASSIVE = 0xE2
CMD_CHANGE_MODE = 0xE1
CMD_SLEEP = 0xE4
MODE_PASSIVE = 0x00
MODE_ACTIVE = 0x01
SLEEP = 0x00
WAKEUP = 0x01


def checksum(data: bytes) -> int:
    """The 16-bit sum of ``data`` (a frame's bytes before its check code, or a command's 5)."""
    return sum(data) & 0xFFFF


@dataclass(frozen=True, slots=True)
class DataFrame:
    """One measurement frame: the 13 data words in datasheet order."""

    words: tuple[int, ...]

    @property
    def pm_cf1(self) -> tuple[int, int, int]:
        """PM1.0, PM2.5, PM10 in µg/m³ at CF=1 (standard particle, for factory calibration)."""
        return self.words[0], self.words[1], self.words[2]

    @property
    def pm_atm(self) -> tuple[int, int, int]:
        """PM1.0, PM2.5, PM10 in µg/m³ under atmospheric environment (the values to report)."""
        return self.words[3], self.words[4], self.words[5]

    @property
    def counts(self) -> tuple[int, int, int, int, int, int]:
        """Particles beyond 0.3, 0.5, 1.0, 2.5, 5.0, 10 µm in 0.1 L of air."""
        w = self.words
        return w[6], w[7], w[8], w[9], w[10], w[11]


@dataclass(frozen=True, slots=True)
class AckFrame:
    """The sensor's short answer to a mode or sleep command."""

    command: int
    data: int


Frame = DataFrame | AckFrame


def decode_frame(raw: bytes) -> Frame:
    """Parse one whole frame; raises FrameError on bad header, length or check code."""
    if raw[:2] != START or len(raw) < 4:
        raise FrameError(f"bad PMS5003 header {raw[:2].hex(' ')}")
    length = int.from_bytes(raw[2:4], "big")
    if _LENGTHS.get(length) != len(raw):
        raise FrameError(f"PMS5003 frame length {length} does not fit {len(raw)} bytes")
    want = checksum(raw[:-2])
    got = int.from_bytes(raw[-2:], "big")
    if got != want:
        raise FrameError(f"PMS5003 check code {got:04X} != {want:04X}")
    if length == ACK_LENGTH:
        return AckFrame(command=raw[4], data=raw[5])
    words = tuple(int.from_bytes(raw[i : i + 2], "big") for i in range(4, 30, 2))
    return DataFrame(words=words)


def _frame_len(header: bytes) -> int | None:
    # Bytes 2-3 are the length field; only data frames and acknowledgements are known.
    return _LENGTHS.get(int.from_bytes(header[2:4], "big"))


class FrameDecoder(ResyncDecoder[Frame]):
    """Turns a byte stream into frames, keeping partial input and resyncing after garbage."""

    def __init__(self) -> None:
        super().__init__(START, header_len=4, frame_len=_frame_len, decode=decode_frame)


def encode_command(command: int, data: int = 0) -> bytes:
    """A 7-byte command: 42 4D CMD DATAH DATAL and the 16-bit LRC of those five."""
    body = START + bytes([command]) + data.to_bytes(2, "big")
    return body + checksum(body).to_bytes(2, "big")


def encode_read_passive() -> bytes:
    """0xE2: send one data frame now (passive mode)."""
    return encode_command(CMD_READ_PASSIVE)


def encode_mode(active: bool) -> bytes:
    """0xE1: active mode (the sensor streams) or passive mode (it answers 0xE2)."""
    return encode_command(CMD_CHANGE_MODE, MODE_ACTIVE if active else MODE_PASSIVE)


def encode_sleep(asleep: bool) -> bytes:
    """0xE4: sleep (fan and laser off) or wake up."""
    return encode_command(CMD_SLEEP, SLEEP if asleep else WAKEUP)


def encode_data_frame(words: tuple[int, ...]) -> bytes:
    """A 32-byte data frame as the sensor sends it (for tests and tools)."""
    if len(words) != 13:
        raise ValueError("a PMS5003 data frame carries exactly 13 words")
    body = START + DATA_LENGTH.to_bytes(2, "big") + b"".join(w.to_bytes(2, "big") for w in words)
    return body + checksum(body).to_bytes(2, "big")
