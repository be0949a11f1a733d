"""QR payloads to cards and frames to taps: pure, no camera, no asyncio.

A printed student card's payload becomes the card ``qr:{payload}`` when it is printable ASCII
(0x21-0x7E, no spaces) and at most 256 characters, the same rule as the wire contract's
``card`` field; anything else is a bad read, counted and ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from device_drivers.base import TapDebouncer

MAX_PAYLOAD = 256


def card_from_payload(payload: bytes | str) -> str | None:
    """``qr:{payload}`` for a valid payload, else None (a bad read)."""
    if isinstance(payload, str):
        try:
            data = payload.encode("ascii")
        except UnicodeEncodeError:
            return None
    else:
        data = payload
    if not 1 <= len(data) <= MAX_PAYLOAD or any(b < 0x21 or b > 0x7E for b in data):
        return None
    return "qr:" + data.decode("ascii")


@dataclass(slots=True)
class FrameResult:
    """What one frame gave: cards newly presented (in order) and payloads rejected."""

    new_cards: list[str] = field(default_factory=list)
    bad_reads: int = 0


class FrameTaps:
    """One tap per presentation from the payloads decoded in successive frames."""

    def __init__(self, rearm_s: float) -> None:
        self._debounce = TapDebouncer(rearm_s)

    def frame(self, payloads: Iterable[bytes | str], now: float) -> FrameResult:
        """Feed the payloads decoded in one frame taken at ``now`` (seconds, never decreasing)."""
        result = FrameResult()
        seen: set[str] = set()
        for payload in payloads:
            card = card_from_payload(payload)
            if card is None:
                result.bad_reads += 1
            elif card not in seen:  # the same code twice in one frame is one sighting
                seen.add(card)
                if self._debounce.seen(card, now):
                    result.new_cards.append(card)
        return result
