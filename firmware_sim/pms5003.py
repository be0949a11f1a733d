"""A Plantower PMS5003 as its UART shows it: 32-byte frames, streamed or on request.

Written from the data manual (v2.3, appendices I and II) on its own, without the
driver's parser, so that both are checked against the same golden frames.
"""

from __future__ import annotations

import struct
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

from firmware_sim.base import PtyDevice

_HISTORY = 256

_HEAD = b"BM"  # 0x42 0x4D
_READ = 0xE2
_MODE = 0xE1
_SLEEP = 0xE4

#: A source of atmospheric PM1.0, PM2.5, PM10 in µg/m³, asked for every frame.
Source = Callable[[], tuple[float, float, float]]


def _sum16(data: bytes) -> int:
    return sum(data) % 65536


def cf1_from_atm(atm: int) -> int:
    """A CF=1 value for an atmospheric one: equal in clean air, higher in dirty air.

    Real sensors report CF=1 == ATM below about 30 µg/m³ and CF=1 > ATM above.
    """
    return atm if atm < 30 else round(atm * 1.5 - 15)


def counts_from_pm(pm1: int, pm25: int, pm10: int) -> tuple[int, int, int, int, int, int]:
    """Plausible particle counts per 0.1 L (>0.3, >0.5, >1, >2.5, >5, >10 µm)."""
    c03 = 150 * pm1 + 60 * pm25 + 50
    c05 = c03 * 3 // 10
    c10 = 6 * pm25 + 3
    c25 = pm10 - pm25 + 1 if pm10 > pm25 else 1
    c50 = c25 // 3
    c10um = c50 // 4
    return tuple(min(v, 0xFFFF) for v in (c03, c05, c10, c25, c50, c10um))  # type: ignore[return-value]


class Pms5003Simulator(PtyDevice):
    """A simulated PMS5003: streams every ``period_s`` in active mode, answers 0xE2 in passive."""

    def __init__(
        self,
        link: Path,
        *,
        seed: int | None = None,
        period_s: float = 1.0,
        pm: tuple[float, float, float] = (9.0, 14.0, 21.0),
        source: Source | None = None,
        version: int = 0x97,
    ) -> None:
        super().__init__(link, seed=seed)
        self.tick_s = period_s
        self._values_lock = threading.Lock()
        self._pm = pm
        self._source = source
        self.version = version
        self.active = True  # power-on default (manual, appendix II)
        self.asleep = False
        self._rx = bytearray()
        self.commands: deque[tuple[int, int]] = deque(maxlen=_HISTORY)  # recent, newest last
        self.bad_commands = 0

    @property
    def period_s(self) -> float:
        """Seconds between streamed frames in active mode."""
        assert self.tick_s is not None
        return self.tick_s

    @period_s.setter
    def period_s(self, value: float) -> None:
        self.tick_s = value

    def set_values(self, pm1: float, pm25: float, pm10: float) -> None:
        """Change the air's atmospheric PM1.0, PM2.5, PM10 (any thread)."""
        with self._values_lock:
            self._pm = (pm1, pm25, pm10)

    def atm_values(self) -> tuple[int, int, int]:
        """The atmospheric-environment values a frame carries now."""
        if self._source is not None:
            values = self._source()
        else:
            with self._values_lock:
                values = self._pm
        pm1, pm25, pm10 = (max(0, min(999, round(v))) for v in values)
        return pm1, pm25, pm10

    def data_frame(self) -> bytes:
        """One 32-byte frame for the present air."""
        pm1, pm25, pm10 = self.atm_values()
        words = (
            cf1_from_atm(pm1), cf1_from_atm(pm25), cf1_from_atm(pm10),
            pm1, pm25, pm10,
            *counts_from_pm(pm1, pm25, pm10),
            (self.version << 8) | 0x00,  # reserved: firmware version, error code
        )  # fmt: skip
        body = _HEAD + struct.pack(">H13H", 28, *words)
        return body + struct.pack(">H", _sum16(body))

    def corrupt(self, frame: bytes) -> bytes:
        """Break the 16-bit check code (last two bytes)."""
        return frame[:-2] + bytes([frame[-2] ^ 0x01, frame[-1] ^ 0xA5])

    def tick(self, now: float) -> None:
        """Active mode streams one frame per period while awake."""
        if self.active and not self.asleep:
            self.send_frame(self.data_frame())

    def on_bytes(self, data: bytes) -> None:
        """Collect 7-byte commands (42 4D CMD DH DL LRC) and act on each good one."""
        rx = self._rx
        rx.extend(data)
        while len(rx) >= 2:
            if rx[:2] != _HEAD:
                del rx[0]
                continue
            if len(rx) < 7:
                return
            packet = bytes(rx[:7])
            if struct.unpack(">H", packet[5:7])[0] != _sum16(packet[:5]):
                self.bad_commands += 1
                del rx[0]
                continue
            del rx[:7]
            self._command(packet[2], packet[4])
        if rx[:1] not in (b"", b"B"):
            rx.clear()

    def _ack(self, cmd: int, data: int) -> None:
        body = _HEAD + bytes([0x00, 0x04, cmd, data])
        self.send_frame(body + struct.pack(">H", _sum16(body)))

    def _command(self, cmd: int, data: int) -> None:
        self.commands.append((cmd, data))
        if cmd == _SLEEP:
            if data == 0x00:
                self._ack(cmd, data)
                self.asleep = True
            else:
                self.asleep = False  # the fan spins up; no answer until the next frame
        elif self.asleep:
            return  # asleep, only wake-up is heard
        elif cmd == _MODE:
            self.active = data == 0x01
            self._ack(cmd, data)
        elif cmd == _READ and not self.active:
            self.send_frame(self.data_frame())
