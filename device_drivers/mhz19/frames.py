"""MH-Z19B frames: 9-byte commands and answers over UART (pure; no I/O).

Winsen MH-Z19B datasheet v1.0, "Communication protocol": every packet is 9 bytes,
``FF 01 CMD b3..b7 CS`` towards the sensor and ``FF CMD b2..b7 CS`` back, with
``CS = (0xFF - (byte1 + ... + byte7)) + 1`` (two's complement of the sum, mod 256).
"""

from __future__ import annotations

from dataclasses import dataclass

from device_drivers.base import FrameError
from device_drivers.framing import ResyncDecoder

START = 0xFF
SENSOR = 0x01
FRAME_LEN = 9

CMD_READ_CO2 = 0x86
CMD_ZERO_CALIBRATION = 0x87
CMD_SPAN_CALIBRATION = 0x88
CMD_ABC = 0x79
CMD_DETECTION_RANGE = 0x99

# Answers echo the command in byte 1; any other byte after 0xFF cannot start an answer.
KNOWN_COMMANDS = frozenset(
    {CMD_READ_CO2, CMD_ZERO_CALIBRATION, CMD_SPAN_CALIBRATION, CMD_ABC, CMD_DETECTION_RANGE}
)

# The datasheet leaves the temperature byte undocumented; the common reading is TT - 40.
TEMP_OFFSET = 40
ABC_ON = 0xA0


def checksum(frame: bytes) -> int:
    """The checksum of a 9-byte packet (over bytes 1..7; byte 0 and 8 are ignored)."""
    return (0xFF - (sum(frame[1:8]) & 0xFF) + 1) & 0xFF


@dataclass(frozen=True, slots=True)
class Frame:
    """One answer from the sensor: the command it answers and its six data bytes."""

    command: int
    data: bytes

    @property
    def co2_ppm(self) -> int:
        """CO2 concentration of a 0x86 answer (HIGH * 256 + LOW)."""
        return self.data[0] * 256 + self.data[1]

    @property
    def temp_c(self) -> int:
        """Sensor temperature of a 0x86 answer (undocumented byte minus 40)."""
        return self.data[2] - TEMP_OFFSET


def decode_frame(raw: bytes) -> Frame:
    """Parse one 9-byte answer; raises FrameError on bad length, header or checksum."""
    if len(raw) != FRAME_LEN:
        raise FrameError(f"MH-Z19 frame must be {FRAME_LEN} bytes, got {len(raw)}")
    if raw[0] != START or raw[1] not in KNOWN_COMMANDS:
        raise FrameError(f"bad MH-Z19 header {raw[:2].hex(' ')}")
    want = checksum(raw)
    if raw[8] != want:
        raise FrameError(f"MH-Z19 checksum {raw[8]:02X} != {want:02X}")
    return Frame(command=raw[1], data=bytes(raw[2:8]))


def _frame_len(header: bytes) -> int | None:
    return FRAME_LEN if header[1] in KNOWN_COMMANDS else None


class FrameDecoder(ResyncDecoder[Frame]):
    """Turns a byte stream into answers, keeping partial input and resyncing after garbage."""

    def __init__(self) -> None:
        super().__init__(bytes([START]), header_len=2, frame_len=_frame_len, decode=decode_frame)


def encode_command(command: int, data: bytes = b"") -> bytes:
    """A 9-byte packet to the sensor: FF 01 CMD, five data bytes (zero-padded), checksum."""
    if len(data) > 5:
        raise ValueError("an MH-Z19 command carries at most 5 data bytes")
    body = bytes([START, SENSOR, command]) + data.ljust(5, b"\x00")
    return body + bytes([checksum(body)])


def encode_answer(command: int, data: bytes) -> bytes:
    """A 9-byte answer as the sensor sends it (for tests and tools): FF CMD, 6 bytes, checksum."""
    if len(data) != 6:
        raise ValueError("an MH-Z19 answer carries exactly 6 data bytes")
    body = bytes([START, command]) + data
    return body + bytes([checksum(body)])


def encode_read_co2() -> bytes:
    """Command 0x86: read CO2 concentration (and temperature)."""
    return encode_command(CMD_READ_CO2)


def encode_zero_calibration() -> bytes:
    """Command 0x87: take the present air as 400 ppm (run after 20 min in fresh air)."""
    return encode_command(CMD_ZERO_CALIBRATION)


def encode_span_calibration(span_ppm: int) -> bytes:
    """Command 0x88: take the present gas as ``span_ppm`` (bytes 3-4, high first)."""
    if not 0 < span_ppm <= 0xFFFF:
        raise ValueError(f"span {span_ppm} ppm out of range")
    return encode_command(CMD_SPAN_CALIBRATION, span_ppm.to_bytes(2, "big"))


def encode_abc(enabled: bool) -> bytes:
    """Command 0x79: automatic baseline correction on (byte 3 = 0xA0) or off (0x00)."""
    return encode_command(CMD_ABC, bytes([ABC_ON if enabled else 0x00]))


def encode_detection_range(range_ppm: int) -> bytes:
    """Command 0x99: detection range, e.g. 2000 or 5000 ppm (bytes 6-7, high first)."""
    if not 0 < range_ppm <= 0xFFFF:
        raise ValueError(f"range {range_ppm} ppm out of range")
    return encode_command(CMD_DETECTION_RANGE, b"\x00\x00\x00" + range_ppm.to_bytes(2, "big"))
