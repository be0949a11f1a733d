"""A camera for the QR card driver: a scripted video or image sequence of synthetic frames.

The driver opens the written file as its camera (``cv2.VideoCapture(path)``), so this
simulator writes, it does not serve: ``start()`` renders the script and writes it, ``path``
(or ``source``) is what the driver is given. ``.avi`` gets Motion-JPEG (what USB webcams
send), ``.mp4`` MPEG-4 part 2, and a path with ``%`` (``frames/%05d.png``) one PNG per frame.

A script is a list of presentations, e.g. card A for 0.8 s, nothing for 0.6 s, card B::

    [Presentation("HS-TDN-2026-000123", 0.8), Presentation(None, 0.6), ...]

Faults: ``Presentation(None, s, noise=True)`` is a covered or broken sensor (frames of pure
noise); a payload the driver must reject (a space, a non-ASCII letter, over 256 characters)
is a bad read; the end of the file is the camera being unplugged. Seeded and deterministic.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from firmware_sim import qrframes

if TYPE_CHECKING:
    from firmware_sim.qrframes import Image


@dataclass(frozen=True, slots=True)
class Presentation:
    """``payload`` shown for ``seconds`` (None: no card; ``noise``: a sensor giving noise)."""

    payload: str | None
    seconds: float
    noise: bool = False


def queue_script(rng: random.Random, students: int) -> list[Presentation]:
    """A queue at a classroom door: each student shows a card for 0.6-1.2 s, with gaps."""
    script: list[Presentation] = [Presentation(None, 0.5)]
    for _ in range(students):
        script.append(Presentation(qrframes.random_payload(rng), rng.uniform(0.6, 1.2)))
        script.append(Presentation(None, rng.uniform(1.2, 3.0)))
    return script


class QrCameraSimulator:
    """Writes the frames of a script to ``path``; the driver reads them as its camera."""

    def __init__(
        self,
        path: Path,
        script: Sequence[Presentation] | None = None,
        *,
        fps: float = 10.0,
        seed: int | None = None,
        hard: bool = False,
    ) -> None:
        self.path = Path(path)
        self.fps = fps
        self.hard = hard
        self.rng = random.Random(seed)
        self.script = list(script) if script is not None else queue_script(self.rng, 5)
        self.frames_written = 0

    @property
    def source(self) -> str:
        """What to give the driver as its ``source``."""
        return str(self.path)

    @property
    def slave_path(self) -> str:
        """The same as ``source``, for callers that treat every simulator alike."""
        return self.source

    @property
    def presented(self) -> list[str]:
        """The valid payloads shown, in order: the taps a correct driver gives."""
        return [p.payload for p in self.script if p.payload is not None and _valid(p.payload)]

    def frames(self) -> list[Image]:
        """Render the whole script, one frame every 1/fps s."""
        out: list[Image] = []
        bg = qrframes.background(self.rng)
        for item in self.script:
            count = max(1, round(item.seconds * self.fps))
            cond = qrframes.random_conditions(self.rng, hard=self.hard)
            for _ in range(count):
                if item.noise:
                    out.append(_noise(self.rng))
                    continue
                cond = qrframes.steady(cond, self.rng)
                out.append(qrframes.render(item.payload, cond, self.rng, bg,
                                           show_card=item.payload is not None))
        return out

    def start(self) -> Self:
        """Render and write the file (or image sequence)."""
        import cv2

        frames = self.frames()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if "%" in self.path.name:
            for i, frame in enumerate(frames):
                cv2.imwrite(str(self.path.parent / (self.path.name % i)), frame)
        else:
            fourcc = "mp4v" if self.path.suffix == ".mp4" else "MJPG"
            height, width = frames[0].shape[:2]
            writer = cv2.VideoWriter(
                str(self.path), cv2.VideoWriter.fourcc(*fourcc), self.fps, (width, height)
            )
            if not writer.isOpened():
                raise OSError(f"cannot write {fourcc} video to {self.path}")
            for frame in frames:
                writer.write(frame)
            writer.release()
        self.frames_written = len(frames)
        return self

    def stop(self) -> None:
        """Nothing runs in the background; the file stays for inspection."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _valid(payload: str) -> bool:
    # The printable-ASCII rule of the wire contract; kept here, not imported from the driver,
    # so a misunderstanding the two share cannot pass the tests.
    return 1 <= len(payload) <= 256 and all(0x21 <= ord(c) <= 0x7E for c in payload)


def _noise(rng: random.Random) -> Image:
    import numpy as np

    gen = np.random.default_rng(rng.getrandbits(32))
    return gen.integers(0, 256, (qrframes.HEIGHT, qrframes.WIDTH, 3), dtype=np.uint8)
