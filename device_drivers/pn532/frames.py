"""PN532 frames over HSU: information, ACK and NACK frames and the answers used (pure).

PN532 User Manual (UM0701-02) §6.2.1: a normal information frame is
``00 00 FF LEN LCS TFI PD0..PDn DCS 00`` with ``LEN`` counting TFI and the data,
``LEN + LCS ≡ 0`` and ``TFI + PD0 + ... + PDn + DCS ≡ 0`` (mod 256); TFI is D4 from the
host and D5 from the PN532, whose answer code is the command code plus one.
ACK is ``00 00 FF 00 FF 00``, NACK ``00 00 FF FF 00 00``; the error frame is ``... 01 FF 7F 81 00``.
"""

from __future__ import annotations

from dataclasses import dataclass

from device_drivers.base import FrameError
from device_drivers.framing import ResyncDecoder

START = b"\x00\x00\xff"
ACK = b"\x00\x00\xff\x00\xff\x00"
NACK = b"\x00\x00\xff\xff\x00\x00"
# §7.2.11 (HSU): the chip wakes on 0x55 and needs a long enough preamble before a command.
WAKEUP = b"\x55\x55" + b"\x00" * 14

TFI_HOST = 0xD4
TFI_PN532 = 0xD5
TFI_ERROR = 0x7F

CMD_GET_FIRMWARE_VERSION = 0x02
CMD_SAM_CONFIGURATION = 0x14
CMD_RF_CONFIGURATION = 0x32
CMD_IN_LIST_PASSIVE_TARGET = 0x4A

SAM_NORMAL = 0x01
RF_MAX_RETRIES = 0x05
BRTY_106_TYPE_A = 0x00
SEL_RES_ISO14443_4 = 0x20
UID_LENGTHS = (4, 7, 10)
CARD_PREFIX = "nfc:"

_HEADER_LEN = 5  # preamble, start code (2), LEN, LCS
_ERROR_SIZE = _HEADER_LEN  # a bad header is handed to decode_frame to be counted


def checksum(data: bytes) -> int:
    """The byte that makes ``data`` sum to zero (mod 256): LCS for LEN, DCS for TFI+data."""
    return (0x100 - (sum(data) & 0xFF)) & 0xFF


@dataclass(frozen=True, slots=True)
class Ack:
    """The ACK frame: the PN532 took the command."""


@dataclass(frozen=True, slots=True)
class Nack:
    """The NACK frame: asks the other side to send its last frame again."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One normal information frame: its TFI, command (or answer) code and parameters."""

    tfi: int
    code: int
    params: bytes


@dataclass(frozen=True, slots=True)
class ErrorFrame:
    """The application error frame (TFI 7F): the PN532 found a syntax error in the command."""


Item = Ack | Nack | Frame | ErrorFrame


def _frame_len(header: bytes) -> int | None:
    length, lcs = header[3], header[4]
    if (length, lcs) in ((0x00, 0xFF), (0xFF, 0x00)):
        return 6  # ACK or NACK
    if (length + lcs) & 0xFF or length == 0:
        return _ERROR_SIZE
    return _HEADER_LEN + length + 2  # TFI..PDn, DCS, postamble


def decode_frame(raw: bytes) -> Item:
    """Parse one frame; raises FrameError on bad start, length, checksums or postamble."""
    if raw[:3] != START or len(raw) < _HEADER_LEN:
        raise FrameError(f"bad PN532 start {raw[:3].hex(' ')}")
    if raw == ACK:
        return Ack()
    if raw == NACK:
        return Nack()
    length, lcs = raw[3], raw[4]
    if (length + lcs) & 0xFF or length == 0:
        raise FrameError(f"PN532 length checksum: LEN {length:02X} LCS {lcs:02X}")
    if len(raw) != _HEADER_LEN + length + 2:
        raise FrameError(f"PN532 frame of LEN {length} is {len(raw)} bytes")
    body, dcs = raw[5 : 5 + length], raw[5 + length]
    if (sum(body) + dcs) & 0xFF:
        raise FrameError(f"PN532 data checksum {dcs:02X} != {checksum(body):02X}")
    if raw[-1] != 0x00:
        raise FrameError(f"PN532 postamble {raw[-1]:02X}")
    if body[0] == TFI_ERROR and length == 1:
        return ErrorFrame()
    if body[0] not in (TFI_HOST, TFI_PN532) or length < 2:
        raise FrameError(f"PN532 frame with TFI {body[0]:02X} and LEN {length}")
    return Frame(tfi=body[0], code=body[1], params=bytes(body[2:]))


class FrameDecoder(ResyncDecoder[Item]):
    """Turns the HSU byte stream into frames; after a bad one resyncs on the next 00 00 FF."""

    def __init__(self) -> None:
        super().__init__(START, header_len=_HEADER_LEN, frame_len=_frame_len, decode=decode_frame)


def encode_frame(tfi: int, code: int, params: bytes = b"") -> bytes:
    """A normal information frame ``00 00 FF LEN LCS TFI code params DCS 00``."""
    body = bytes([tfi, code]) + params
    if len(body) > 0xFF:
        raise ValueError("a normal PN532 frame carries at most 255 bytes (TFI included)")
    return (
        START
        + bytes([len(body), checksum(bytes([len(body)]))])
        + body
        + bytes([checksum(body), 0x00])
    )


def encode_command(code: int, params: bytes = b"") -> bytes:
    """A host-to-PN532 command frame (TFI D4)."""
    return encode_frame(TFI_HOST, code, params)


def encode_answer(code: int, params: bytes = b"") -> bytes:
    """A PN532-to-host answer frame (TFI D5) to command ``code`` (sent as code + 1)."""
    return encode_frame(TFI_PN532, code + 1, params)


def encode_get_firmware_version() -> bytes:
    """§7.2.2 GetFirmwareVersion (02)."""
    return encode_command(CMD_GET_FIRMWARE_VERSION)


def encode_sam_configuration(timeout: int = 0x14, irq: bool = True) -> bytes:
    """§7.2.10 SAMConfiguration (14): normal mode (no SAM), timeout in 50 ms units, IRQ pin."""
    return encode_command(CMD_SAM_CONFIGURATION, bytes([SAM_NORMAL, timeout, int(irq)]))


def encode_max_retries(passive_activation: int = 0x01) -> bytes:
    """§7.3.1 RFConfiguration (32) item 5: MxRtyATR FF, MxRtyPSL 01, MxRtyPassiveActivation.

    The power-on value FF retries passive activation forever, so InListPassiveTarget would
    not answer until a card comes; a small value makes it answer NbTg 0 at once.
    """
    return encode_command(
        CMD_RF_CONFIGURATION, bytes([RF_MAX_RETRIES, 0xFF, 0x01, passive_activation])
    )


def encode_in_list_passive_target(max_tg: int = 1, brty: int = BRTY_106_TYPE_A) -> bytes:
    """§7.3.5 InListPassiveTarget (4A): look for up to ``max_tg`` targets at 106 kbps type A."""
    return encode_command(CMD_IN_LIST_PASSIVE_TARGET, bytes([max_tg, brty]))


@dataclass(frozen=True, slots=True)
class FirmwareVersion:
    """§7.2.2: IC (0x32 for a PN532), version, revision and supported protocols."""

    ic: int
    ver: int
    rev: int
    support: int


def parse_firmware_version(frame: Frame) -> FirmwareVersion:
    """The GetFirmwareVersion answer (03 IC Ver Rev Support); raises FrameError."""
    if frame.code != CMD_GET_FIRMWARE_VERSION + 1 or len(frame.params) != 4:
        raise FrameError(f"not a GetFirmwareVersion answer: {frame}")
    ic, ver, rev, support = frame.params
    return FirmwareVersion(ic, ver, rev, support)


@dataclass(frozen=True, slots=True)
class Target:
    """§7.3.5, 106 kbps type A target data: Tg, SENS_RES, SEL_RES, NFCID1 and ATS if any."""

    tg: int
    sens_res: int
    sel_res: int
    uid: bytes
    ats: bytes = b""

    @property
    def card(self) -> str:
        """The wire form, ``nfc:`` and the UID in upper-case hex."""
        return CARD_PREFIX + self.uid.hex().upper()


def parse_in_list_passive_target(frame: Frame) -> list[Target]:
    """The InListPassiveTarget answer (4B NbTg targets...) for type A; raises FrameError."""
    p = frame.params
    if frame.code != CMD_IN_LIST_PASSIVE_TARGET + 1 or not p:
        raise FrameError(f"not an InListPassiveTarget answer: {frame}")
    targets: list[Target] = []
    i = 1
    for _ in range(p[0]):
        if len(p) < i + 5:
            raise FrameError(f"InListPassiveTarget answer cut short: {p.hex(' ')}")
        tg, sens_res, sel_res, uid_len = p[i], p[i + 1] << 8 | p[i + 2], p[i + 3], p[i + 4]
        i += 5
        if uid_len not in UID_LENGTHS or len(p) < i + uid_len:
            raise FrameError(f"bad NFCID1 length {uid_len} in {p.hex(' ')}")
        uid = p[i : i + uid_len]
        i += uid_len
        ats = b""
        # The ATS follows only for ISO/IEC 14443-4 targets; its first byte counts itself.
        if sel_res & SEL_RES_ISO14443_4 and i < len(p):
            ats_len = p[i]
            if ats_len == 0 or len(p) < i + ats_len:
                raise FrameError(f"bad ATS length {ats_len} in {p.hex(' ')}")
            ats = p[i : i + ats_len]
            i += ats_len
        targets.append(Target(tg, sens_res, sel_res, bytes(uid), bytes(ats)))
    if i != len(p):
        raise FrameError(f"InListPassiveTarget answer has {len(p) - i} extra bytes")
    return targets
