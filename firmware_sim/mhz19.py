"""A Winsen MH-Z19B as its UART shows it: 9-byte commands in, 9-byte answers out.

Written from the datasheet (v1.0, "Communication protocol") on its own, without the
driver's parser, so that both are checked against the same golden frames.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

from firmware_sim.base import PtyDevice

_HISTORY = 256

log = logging.getLogger(__name__)

PACKET = 9
_READ = 0x86
_ZERO = 0x87
_SPAN = 0x88
_ABC = 0x79
_RANGE = 0x99
_ZERO_PPM = 400  # 0x87 takes the present air as 400 ppm (datasheet, "Zero point calibration")

#: A source of (true CO2 in ppm, temperature in °C), asked at every 0x86.
Source = Callable[[], tuple[float, float]]


def _mhz19_sum(packet: bytes) -> int:
    """Datasheet checksum: (0xFF - (byte1 + ... + byte7)) + 1, modulo 256."""
    total = 0
    for b in packet[1:8]:
        total = (total + b) & 0xFF
    return (0x100 - total) & 0xFF


class Mhz19Simulator(PtyDevice):
    """A simulated MH-Z19B; fixed values unless a ``source`` supplies them."""

    def __init__(
        self,
        link: Path,
        *,
        seed: int | None = None,
        co2_ppm: float = 600.0,
        temp_c: float = 27.0,
        source: Source | None = None,
    ) -> None:
        super().__init__(link, seed=seed)
        self._values_lock = threading.Lock()
        self._co2 = co2_ppm
        self._temp = temp_c
        self._source = source
        self._rx = bytearray()
        self.offset_ppm = 0.0
        self.gain = 1.0
        self.abc_enabled = True  # factory default: ABC on, 24 h cycle
        self.range_ppm = 5000
        self.commands: deque[int] = deque(maxlen=_HISTORY)  # recent commands, newest last
        self.bad_commands = 0

    def set_values(self, *, co2_ppm: float | None = None, temp_c: float | None = None) -> None:
        """Change the true gas concentration or temperature (any thread)."""
        with self._values_lock:
            if co2_ppm is not None:
                self._co2 = co2_ppm
            if temp_c is not None:
                self._temp = temp_c

    def true_values(self) -> tuple[float, float]:
        """The air's real CO2 and temperature, before calibration."""
        if self._source is not None:
            return self._source()
        with self._values_lock:
            return self._co2, self._temp

    def measured_ppm(self) -> int:
        """What the sensor reports now: calibrated, clipped to its range."""
        true_co2, _ = self.true_values()
        value = round((true_co2 - self.offset_ppm) * self.gain)
        return max(0, min(self.range_ppm, value))

    def answer_read(self) -> bytes:
        """The 9-byte answer to 0x86 for the present air."""
        co2 = self.measured_ppm()
        _, temp = self.true_values()
        temp_byte = max(0, min(255, round(temp) + 40))
        body = bytes([0xFF, _READ, co2 >> 8, co2 & 0xFF, temp_byte, 0x00, 0x00, 0x00])
        return body + bytes([_mhz19_sum(body)])

    def on_bytes(self, data: bytes) -> None:
        """Collect 9-byte commands (FF 01 ...) and act on each good one."""
        rx = self._rx
        rx.extend(data)
        while len(rx) >= 2:
            if rx[0] != 0xFF or rx[1] != 0x01:
                del rx[0]
                continue
            if len(rx) < PACKET:
                return
            packet = bytes(rx[:PACKET])
            if packet[8] != _mhz19_sum(packet):
                self.bad_commands += 1
                del rx[0]
                continue
            del rx[:PACKET]
            self._command(packet)
        if rx[:1] not in (b"", b"\xff"):
            rx.clear()

    def _command(self, packet: bytes) -> None:
        cmd = packet[2]
        self.commands.append(cmd)
        if cmd == _READ:
            self.send_frame(self.answer_read())
        elif cmd == _ZERO:
            true_co2, _ = self.true_values()
            self.offset_ppm = true_co2 - _ZERO_PPM / self.gain
        elif cmd == _SPAN:
            span = packet[3] * 256 + packet[4]
            true_co2, _ = self.true_values()
            if true_co2 - self.offset_ppm > 0:
                self.gain = span / (true_co2 - self.offset_ppm)
        elif cmd == _ABC:
            self.abc_enabled = packet[3] == 0xA0
        elif cmd == _RANGE:
            self.range_ppm = packet[6] * 256 + packet[7]
        else:
            log.debug("MH-Z19 sim: unknown command %02X", cmd)
        # The datasheet gives no answer for 0x87, 0x88, 0x79 and 0x99; none is sent.
