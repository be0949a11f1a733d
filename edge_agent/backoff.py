"""Exponential backoff with jitter, shared by the MQTT link and the device supervisor."""

from __future__ import annotations

import random


class Backoff:
    """Delays that double from ``initial`` up to ``maximum``, with "equal jitter".

    Half of each delay is fixed and half is random, so a fleet of boxes that lost the broker at
    the same instant does not come back in lockstep, yet no retry happens immediately.
    """

    def __init__(self, initial: float, maximum: float, factor: float = 2.0) -> None:
        if initial <= 0 or maximum < initial or factor < 1:
            raise ValueError("need 0 < initial <= maximum and factor >= 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.attempts = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one failure."""
        ceiling = min(self.maximum, self.initial * self.factor**self.attempts)
        if ceiling < self.maximum:
            # Stop counting once capped, so the power never overflows after days offline.
            self.attempts += 1
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def reset(self) -> None:
        """Forget past failures after a success."""
        self.attempts = 0
