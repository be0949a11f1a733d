"""An NXP PN532 on HSU as the host sees it: ACK then answer, byte for byte.

Written from the PN532 User Manual (UM0701-02) on its own, without the driver's parser, so
that both are checked against the same golden frames: §6.2.1 frames (normal information,
ACK, NACK, error), §7.2.2 GetFirmwareVersion, §7.2.10 SAMConfiguration, §7.3.1
RFConfiguration, §7.3.5 InListPassiveTarget (106 kbps type A). The chip sleeps until the
HSU wake-up (a 0x55 byte); commands sent while it sleeps go unanswered.
"""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path

from firmware_sim.base import PtyDevice

_HISTORY = 256
_START = b"\x00\xff"  # the start code; the 00 preamble before it is optional on receive
_ACK = b"\x00\x00\xff\x00\xff\x00"
_ERROR = b"\x00\x00\xff\x01\xff\x7f\x81\x00"  # §6.2.1.5 application-level error frame
_WAKE = 0x55
_HOST = 0xD4
_CHIP = 0xD5
_UID = re.compile(r"(?:[0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}|[0-9A-Fa-f]{20})")

# GetFirmwareVersion: IC 0x32 (PN532), version 1.6, supports ISO/IEC 14443 A and B, ISO 18092.
FIRMWARE = bytes([0x32, 0x01, 0x06, 0x07])

# SENS_RES (ATQA) and SEL_RES (SAK) by UID size: MIFARE Classic 1K, NTAG/Ultralight, triple.
_TYPE_A = {4: (b"\x00\x04", 0x08), 7: (b"\x00\x44", 0x00), 10: (b"\x00\x84", 0x00)}


def _zero_sum(data: bytes) -> int:
    """The checksum byte that makes ``data`` plus it sum to 0 modulo 256."""
    return -sum(data) & 0xFF


def info_frame(tfi: int, body: bytes) -> bytes:
    """A normal information frame: 00 00 FF LEN LCS TFI body DCS 00."""
    data = bytes([tfi]) + body
    return (
        b"\x00\x00\xff"
        + bytes([len(data), _zero_sum(bytes([len(data)]))])
        + data
        + bytes([_zero_sum(data), 0x00])
    )


def in_list_answer(uid: bytes | None) -> bytes:
    """The InListPassiveTarget answer frame: NbTg 0, or one type A target with ``uid``."""
    if uid is None:
        return info_frame(_CHIP, b"\x4b\x00")
    sens_res, sel_res = _TYPE_A[len(uid)]
    target = bytes([0x01]) + sens_res + bytes([sel_res, len(uid)]) + uid
    return info_frame(_CHIP, b"\x4b\x01" + target)


class Pn532Simulator(PtyDevice):
    """A simulated PN532: ``present(uid)`` puts an ISO 14443A card in the field."""

    def __init__(
        self,
        link: Path,
        *,
        seed: int | None = None,
        card: str | None = None,
        asleep: bool = True,
    ) -> None:
        super().__init__(link, seed=seed)
        self.asleep = asleep
        self._rx = bytearray()
        self._in_list_empty = in_list_answer(None)
        self._in_list = self._in_list_empty
        self._last_answer: bytes | None = None
        self.card: str | None = None  # the wire form of the card in the field, if any
        self.taps_presented = 0
        self.sam_configured = False
        self.max_retries: bytes | None = None
        self.commands: deque[int] = deque(maxlen=_HISTORY)  # recent command codes, newest last
        self.bad_commands = 0
        self.ignored_asleep = 0
        self.nacks_received = 0
        self.polls = 0
        if card is not None:
            self.present(card)

    def present(self, card_uid_hex: str) -> None:
        """Put a card with this 4-, 7- or 10-byte UID in the field (any thread; ``nfc:`` ok)."""
        text = card_uid_hex.removeprefix("nfc:")
        if not _UID.fullmatch(text):
            raise ValueError(f"an ISO 14443A UID is 8, 14 or 20 hex characters: {card_uid_hex!r}")
        answer = in_list_answer(bytes.fromhex(text))
        with self._lock:
            if answer != self._in_list:
                self.taps_presented += 1
            self._in_list = answer
            self.card = "nfc:" + text.upper()

    def remove(self) -> None:
        """Take the card out of the field (any thread)."""
        with self._lock:
            self._in_list = self._in_list_empty
            self.card = None

    def corrupt(self, frame: bytes) -> bytes:
        """Break the data checksum (DCS) of an information frame, the LCS of an ACK."""
        if len(frame) > len(_ACK):
            return frame[:-2] + bytes([frame[-2] ^ 0x5A]) + frame[-1:]
        return frame[:4] + bytes([frame[4] ^ 0x5A]) + frame[5:]

    def on_bytes(self, data: bytes) -> None:
        """Wake on 0x55, then collect host frames (00 FF LEN LCS ...) and answer each good one."""
        rx = self._rx
        if self.asleep:
            at = data.find(bytes([_WAKE]))
            if at < 0:
                self.ignored_asleep += len(data)
                return
            self.ignored_asleep += at
            self.asleep = False
            data = data[at:]
        rx.extend(data)
        while True:
            at = rx.find(_START)
            if at < 0:
                del rx[: max(0, len(rx) - 1)]  # keep a trailing 00 that may start a frame
                return
            del rx[:at]
            if len(rx) < 4:
                return
            length, lcs = rx[2], rx[3]
            if (length, lcs) == (0x00, 0xFF):  # host ACK: abort; nothing is running here
                del rx[:4]
                continue
            if (length, lcs) == (0xFF, 0x00):  # host NACK: send the last answer again
                del rx[:4]
                self.nacks_received += 1
                if self._last_answer is not None:
                    self.send_frame(self._last_answer)
                continue
            if (length + lcs) & 0xFF or length < 2:
                self.bad_commands += 1
                del rx[:2]
                continue
            if len(rx) < 4 + length + 1:
                return
            body, dcs = bytes(rx[4 : 4 + length]), rx[4 + length]
            if (sum(body) + dcs) & 0xFF or body[0] != _HOST:
                self.bad_commands += 1  # §6.2.2: a frame in error is not acknowledged
                del rx[:2]
                continue
            del rx[: 4 + length + 1]
            self._command(body[1], body[2:])

    def _command(self, code: int, params: bytes) -> None:
        self.commands.append(code)
        answer = self._answer(code, params)
        self.send_frame(_ACK)
        self._last_answer = answer
        self.send_frame(answer)

    def _answer(self, code: int, params: bytes) -> bytes:
        if code == 0x02:
            return info_frame(_CHIP, b"\x03" + FIRMWARE)
        if code == 0x14 and params[:1] == b"\x01":
            self.sam_configured = True
            return info_frame(_CHIP, b"\x15")
        if code == 0x32 and params[:1] == b"\x05" and len(params) == 4:
            self.max_retries = params[1:]
            return info_frame(_CHIP, b"\x33")
        if code == 0x4A and len(params) >= 2 and 1 <= params[0] <= 2:
            self.polls += 1
            if params[1] != 0x00:  # only 106 kbps type A cards are simulated
                return info_frame(_CHIP, b"\x4b\x00")
            with self._lock:
                return self._in_list
        return _ERROR
