"""An RDM6300 125 kHz EM4100 reader as its UART shows it: a card's frame every 65 ms.

Written from the module's format on its own, without the driver's parser, so that both are
checked against the same golden frames: ``02``, ten ASCII hex characters (5 data bytes),
two ASCII hex characters of their XOR, ``03``; nothing at all while no card is in the field.
"""

from __future__ import annotations

import re
from pathlib import Path

from firmware_sim.base import PtyDevice

_STX = b"\x02"
_ETX = b"\x03"
_UID = re.compile(r"[0-9A-Fa-f]{10}")

#: Seconds between repeated frames while a card stays on the reader.
PERIOD_S = 0.065


def card_frame(uid_hex: str) -> bytes:
    """The 14 bytes the reader repeats for a 10-hex-character card (``em:`` prefix allowed)."""
    text = uid_hex.removeprefix("em:")
    if not _UID.fullmatch(text):
        raise ValueError(f"an EM4100 card is 10 hex characters, got {uid_hex!r}")
    xor = 0
    for i in range(0, 10, 2):
        xor ^= int(text[i : i + 2], 16)
    return _STX + f"{text.upper()}{xor:02X}".encode("ascii") + _ETX


class Rdm6300Simulator(PtyDevice):
    """A simulated RDM6300: ``present(uid)`` puts a card in the field, ``remove()`` takes it off."""

    def __init__(
        self,
        link: Path,
        *,
        seed: int | None = None,
        period_s: float = PERIOD_S,
        card: str | None = None,
    ) -> None:
        super().__init__(link, seed=seed)
        self.tick_s = period_s
        self._frame: bytes | None = None
        self.card: str | None = None  # the wire form of the card in the field, if any
        self.taps_presented = 0
        if card is not None:
            self.present(card)

    def present(self, card_uid_hex: str) -> None:
        """Put a card in the field (any thread); its first frame goes out at once."""
        frame = card_frame(card_uid_hex)
        with self._lock:
            if frame != self._frame:
                self.taps_presented += 1
            self._frame = frame
            self.card = "em:" + frame[1:11].decode("ascii")
        self.send_frame(frame)

    def remove(self) -> None:
        """Take the card out of the field (any thread): the reader falls silent."""
        with self._lock:
            self._frame = None
            self.card = None

    def corrupt(self, frame: bytes) -> bytes:
        """The frame with valid hex characters but a wrong XOR."""
        bad = int(frame[11:13], 16) ^ 0x5A
        return frame[:11] + f"{bad:02X}".encode("ascii") + frame[13:]

    def tick(self, now: float) -> None:
        """Repeat the present card's frame."""
        frame = self._frame
        if frame is not None:
            self.send_frame(frame)

    def on_bytes(self, data: bytes) -> None:
        """The module has no receive line worth the name: anything sent to it is ignored."""
