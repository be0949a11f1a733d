"""The blocking side of a QR camera: OpenCV capture and decoding, one call per frame.

Everything here runs in a worker thread (the driver calls ``Camera.step`` through
``asyncio.to_thread``); OpenCV is imported only when a camera is opened, so importing
``device_drivers`` stays light on an edge box without the ``camera`` extra.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from device_drivers.base import TransportError
from device_drivers.qrcam.decoders import Decode

log = logging.getLogger(__name__)

#: Frame rate assumed for a file that does not say (image sequences report ffmpeg's 25).
DEFAULT_FILE_FPS = 10.0


def is_live(source: str) -> bool:
    """True for a camera device (an index like ``0`` or a ``/dev/...`` path), False for files."""
    return source.isdigit() or source.startswith("/dev/")


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame's decoded payloads; ``index`` counts frames since the camera opened."""

    index: int
    payloads: list[bytes]


class Camera:
    """An open ``cv2.VideoCapture`` on a device, a video file or an image sequence."""

    def __init__(self, source: str, decode: Decode, *, loop: bool, fps: float | None) -> None:
        import cv2

        cv2.setNumThreads(1)  # one core per camera; the box has other work
        self.source = source
        self.live = is_live(source)
        self.loop = loop
        self._decode = decode
        self._cv2: Any = cv2
        self._cap = self._open()
        reported = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if "%" in source or not 1.0 <= reported <= 240.0:
            reported = DEFAULT_FILE_FPS
        self.fps = fps or reported
        self.frames = 0

    def _open(self) -> Any:
        cv2 = self._cv2
        target: int | str = int(self.source) if self.source.isdigit() else self.source
        cap = cv2.VideoCapture(target)
        if not cap.isOpened():
            cap.release()
            raise TransportError(f"camera {self.source!r} cannot be opened")
        return cap

    def step(self) -> Frame | None:
        """Read and decode the next frame; None if a live camera gave none this time.

        Raises TransportError when a file ends (a camera that is gone), unless ``loop``.
        """
        ok, image = self._cap.read()
        if not ok and not self.live and self.loop:
            self._cap.release()
            self._cap = self._open()  # reopening works for files and image sequences alike
            ok, image = self._cap.read()
        if not ok:
            if self.live:
                return None
            raise TransportError(f"camera {self.source!r} ended after {self.frames} frames")
        cv2 = self._cv2
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        frame = Frame(self.frames, self._decode(gray))
        self.frames += 1
        return frame

    def release(self) -> None:
        """Let the device go."""
        self._cap.release()
