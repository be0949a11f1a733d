"""A camera reading printed QR student cards: frames in a worker thread, taps out.

Time for the debounce is the frame's own: the monotonic clock for a live camera, the
position in the video (frame index / frame rate) for a file, so a file gives the same taps
whether it is played at its frame rate (``realtime``, like a camera) or as fast as it decodes.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from device_drivers.base import CardRead, DriverStats, TransportError
from device_drivers.qrcam.camera import Camera, Frame
from device_drivers.qrcam.cards import FrameTaps
from device_drivers.qrcam.decoders import DecoderName, make_decoder

log = logging.getLogger(__name__)

_RETRY_S = 0.05  # pause after a live camera gave no frame, before asking again


class QrCamConfig(BaseModel):
    """A QR camera: where frames come from, which decoder, how taps are debounced."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(
        description="camera device (/dev/video0 or an index like 0), a video file, "
        "or an image sequence such as frames/%05d.png"
    )
    decoder: DecoderName = Field(
        default="zxing", description="zxing (zxing-cpp, faster and reads more) or pyzbar"
    )
    retry_upscaled: bool = Field(
        default=True, description="try a frame again at 2x size when nothing was found"
    )
    rearm_s: float = Field(
        default=1.0, gt=0, description="a card unseen for this long may tap again"
    )
    timeout_s: float = Field(
        default=3.0, gt=0, description="no frame for this long: the camera is lost"
    )
    loop: bool = Field(default=False, description="replay a file when it ends (else: camera gone)")
    realtime: bool = Field(default=True, description="play a file at its frame rate")
    fps: float | None = Field(
        default=None, gt=0, description="frame rate of a file that does not carry one"
    )


class QrCamDriver:
    """An open QR camera: ``async with QrCamDriver(cfg) as cam: await cam.next_card()``."""

    def __init__(self, config: QrCamConfig) -> None:
        self.config = config
        self.stats = DriverStats()
        self._taps = FrameTaps(config.rearm_s)
        self._ready: collections.deque[str] = collections.deque()
        self._camera: Camera | None = None
        self._pending: asyncio.Future[Frame | None] | None = None
        self._lost: TransportError | None = None
        self._started = 0.0

    async def __aenter__(self) -> Self:
        decode = make_decoder(self.config.decoder, retry_upscaled=self.config.retry_upscaled)
        cfg = self.config
        self._camera = await asyncio.to_thread(
            Camera, cfg.source, decode, loop=cfg.loop, fps=cfg.fps
        )
        self._started = asyncio.get_running_loop().time()
        log.info("camera %s open (%s, %.1f fps)", cfg.source, cfg.decoder, self._camera.fps)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        camera, self._camera = self._camera, None
        if camera is None:
            return
        pending = self._pending
        if pending is not None and not pending.done():
            # A read stuck in the worker thread: release once it returns, never under it.
            pending.add_done_callback(lambda _: camera.release())
        else:
            await asyncio.to_thread(camera.release)

    async def next_card(self) -> CardRead:
        """The next new card presentation; raises TransportError when the camera is lost."""
        while not self._ready:
            if self._lost is not None:
                raise self._lost
            try:
                await self._next_frame()
            except TransportError as err:
                self._lost = err
                raise
        return CardRead(ts=datetime.now(UTC), card=self._ready.popleft())

    async def _next_frame(self) -> None:
        camera = self._camera
        if camera is None:
            raise TransportError("QR camera used outside 'async with'")
        loop = asyncio.get_running_loop()
        if not camera.live and self.config.realtime:
            due = self._started + camera.frames / camera.fps
            await asyncio.sleep(max(0.0, due - loop.time()))
        last_frame = loop.time()
        while True:
            if self._pending is None:
                self._pending = asyncio.ensure_future(asyncio.to_thread(camera.step))
            try:
                # Shielded: a caller that gives up does not lose the frame being read.
                frame = await asyncio.wait_for(asyncio.shield(self._pending), self.config.timeout_s)
            except TimeoutError:
                self.stats.timeouts += 1
                raise TransportError(
                    f"camera {camera.source!r} gave no frame for {self.config.timeout_s} s"
                ) from None
            finally:
                if self._pending.done():
                    self._pending = None
            if frame is not None:
                break
            if loop.time() - last_frame >= self.config.timeout_s:
                self.stats.timeouts += 1
                raise TransportError(
                    f"camera {camera.source!r} gave no frame for {self.config.timeout_s} s"
                )
            await asyncio.sleep(_RETRY_S)
        now = loop.time() if camera.live else frame.index / camera.fps
        result = self._taps.frame(frame.payloads, now)
        self.stats.frames_ok += 1
        if result.bad_reads:
            self.stats.frames_bad += result.bad_reads
            log.debug("camera %s: %d unreadable payloads", camera.source, result.bad_reads)
        self._ready.extend(result.new_cards)
