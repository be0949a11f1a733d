"""Synthetic 640×480 camera frames of printed QR student cards (segno + OpenCV + numpy).

Student card payload (what the QR code on a printed card holds), all QR-alphanumeric so it fits a
version 1 code at error correction level M::

    HS-{SCHOOL}-{YEAR}-{SERIAL}      e.g. HS-TDN-2026-000123

``HS`` is *học sinh* (student), ``SCHOOL`` the school's short code (2-6 upper-case letters,
``TDN`` = Trần Đại Nghĩa), ``YEAR`` the enrolment year, ``SERIAL`` six digits within the school
and year. The reader does not interpret it: the edge sends ``qr:HS-TDN-2026-000123`` and the hub
looks the card up like any other.

A frame is a background (a desk and wall with clutter), maybe a card (white, blue header, name
lines and the QR code) seen through a perspective (rotation and tilt), then camera effects:
defocus or motion blur, light level and a light gradient, sensor noise, a thumb over part of
the card and JPEG compression. ``hard_set`` draws every condition from wide ranges.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Image = npt.NDArray[np.uint8]

WIDTH, HEIGHT = 640, 480
_HI_PX = 8  # pixels per module of the card drawn before it is scaled down (anti-aliased)
_FOCAL = 700.0  # pixels; a 60° lens on a 640-px-wide sensor


def student_payload(school: str, year: int, serial: int) -> str:
    """The QR payload printed on a student's card, e.g. ``HS-TDN-2026-000123``."""
    if not (school.isascii() and school.isalpha() and school.isupper() and 2 <= len(school) <= 6):
        raise ValueError(f"school code must be 2-6 upper-case letters, not {school!r}")
    if not (2000 <= year <= 2099 and 0 <= serial <= 999_999):
        raise ValueError(f"year {year} or serial {serial} out of range")
    return f"HS-{school}-{year}-{serial:06d}"


def random_payload(rng: random.Random) -> str:
    """A plausible student-card payload from a handful of Ho Chi Minh City school codes."""
    school = rng.choice(("TDN", "LHP", "NTMK", "GD", "BTX", "LQD"))
    return student_payload(school, rng.randint(2021, 2026), rng.randint(1, 4000))


@dataclass(frozen=True, slots=True)
class Conditions:
    """How one card is seen: geometry, optics, light and what covers it."""

    size_px: float = 160.0  # side of the code's modules (no quiet zone) before tilt
    center: tuple[float, float] = (WIDTH / 2, HEIGHT / 2)
    angle_deg: float = 0.0  # in-plane rotation
    tilt_x_deg: float = 0.0  # card leaning back or forward
    tilt_y_deg: float = 0.0  # card turned left or right
    blur_sigma: float = 0.0  # defocus (Gaussian sigma, px)
    motion_px: int = 0  # length of a horizontal-ish motion blur, px
    motion_deg: float = 0.0
    gain: float = 1.0  # < 0.5 dim classroom, > 1.3 sun or flash (clips)
    gradient: float = 0.0  # light falling off across the frame, 0..1
    noise_sigma: float = 2.0  # sensor noise, grey levels
    thumb: float = 0.0  # 0: none; else how far the thumb reaches into the code (fraction)
    jpeg_quality: int = 90


def random_conditions(rng: random.Random, *, hard: bool) -> Conditions:
    """Conditions drawn at random; ``hard`` widens every range (the benchmark's set)."""
    size = rng.uniform(60, 250) if hard else rng.uniform(120, 200)
    tilt = 40.0 if hard else 15.0
    light = rng.random()
    gain = (
        rng.uniform(0.25, 0.5) if hard and light < 0.2
        else rng.uniform(1.3, 1.8) if hard and light > 0.85
        else rng.uniform(0.7, 1.2)
    )
    blur = rng.random()
    # Room for the tilted code inside the frame (its half-diagonal plus a little).
    margin = size * 0.8 + 10
    return Conditions(
        size_px=size,
        center=(rng.uniform(margin, WIDTH - margin), rng.uniform(margin, HEIGHT - margin)),
        angle_deg=rng.uniform(-180, 180) if hard else rng.uniform(-20, 20),
        tilt_x_deg=rng.uniform(-tilt, tilt),
        tilt_y_deg=rng.uniform(-tilt, tilt),
        blur_sigma=rng.uniform(0.3, 2.0) if hard and blur < 0.5 else rng.uniform(0.0, 0.8),
        motion_px=rng.randint(2, 7) if hard and blur > 0.8 else 0,
        motion_deg=rng.uniform(0, 180),
        gain=gain,
        gradient=rng.uniform(0, 0.5),
        noise_sigma=rng.uniform(2, 10) if hard else rng.uniform(1, 4),
        thumb=rng.uniform(0.0, 0.12) if hard and rng.random() < 0.2 else 0.0,
        jpeg_quality=rng.randint(60, 95) if hard else 90,
    )


def background(rng: random.Random) -> Image:
    """A wall, a desk edge and some clutter (books, a phone, pens), lit unevenly."""
    import cv2
    import numpy as np

    wall = np.array([rng.randint(150, 220) for _ in range(3)], dtype=np.float32)
    desk = np.array([rng.randint(40, 120) for _ in range(3)], dtype=np.float32)
    img = np.empty((HEIGHT, WIDTH, 3), np.float32)
    img[:] = wall
    desk_y = rng.randint(HEIGHT // 2, HEIGHT - 60)
    img[desk_y:] = desk
    for _ in range(rng.randint(3, 8)):
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        x, y = rng.randint(-50, WIDTH), rng.randint(-50, HEIGHT)
        w, h = rng.randint(20, 160), rng.randint(10, 120)
        cv2.rectangle(img, (x, y), (x + w, y + h), colour, -1)
    for _ in range(rng.randint(2, 6)):  # pens, cables: thin high-contrast lines
        pts = [(rng.randint(0, WIDTH), rng.randint(0, HEIGHT)) for _ in range(2)]
        cv2.line(img, pts[0], pts[1], (rng.randint(0, 60),) * 3, rng.randint(1, 4))
    img += np.random.default_rng(rng.getrandbits(32)).standard_normal(img.shape, np.float32) * 4
    return np.clip(img, 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=64)
def _qr_modules(payload: str) -> Image:
    """The code's modules (1 = dark) with no quiet zone."""
    import numpy as np
    import segno

    qr = segno.make_qr(payload, error="m", boost_error=False)
    return np.array(list(qr.matrix_iter(scale=1, border=0)), dtype=np.uint8)


@functools.lru_cache(maxsize=64)  # callers only read the image
def card_image(payload: str | None, name: str = "NGUYEN VAN AN") -> tuple[Image, tuple[int, int, int]]:
    """The card at 8 px per module, and the code's (x, y, side) on it; ``None``: no code."""
    import cv2
    import numpy as np

    modules = _qr_modules(payload) if payload is not None else np.zeros((21, 21), np.uint8)
    side = modules.shape[0] * _HI_PX
    quiet = 3 * _HI_PX  # white around the code; the standard asks 4 modules, cards print less
    card_h = side + 2 * quiet + 6 * _HI_PX
    card_w = int(card_h * 85.6 / 54)  # ID-1 card proportions
    card = np.full((card_h, card_w), 245, np.uint8)
    card[: 6 * _HI_PX] = 90  # the school's coloured header band, in grey
    cv2.putText(card, "THE HOC SINH", (quiet, 4 * _HI_PX), cv2.FONT_HERSHEY_SIMPLEX,
                _HI_PX / 8, 255, max(1, _HI_PX // 4))
    x0 = card_w - side - quiet
    y0 = 6 * _HI_PX + quiet
    for i, text in enumerate((name, "LOP 10A1", "2026-2027")):
        cv2.putText(card, text, (quiet, y0 + (i + 1) * 5 * _HI_PX), cv2.FONT_HERSHEY_SIMPLEX,
                    _HI_PX / 12, 40, max(1, _HI_PX // 5))
    if payload is not None:
        code = cv2.resize(modules, (side, side), interpolation=cv2.INTER_NEAREST)
        card[y0 : y0 + side, x0 : x0 + side] = np.where(code > 0, 20, 245).astype(np.uint8)
    return card, (x0, y0, side)


def _homography(cond: Conditions, code: tuple[int, int, int], scale: float) -> np.ndarray:
    """Card pixels (already scaled) to frame pixels: rotate, tilt in 3D, project."""
    import numpy as np

    x0, y0, side = (v * scale for v in code)
    cx, cy = x0 + side / 2, y0 + side / 2
    ax, ay, az = (math.radians(a) for a in (cond.tilt_x_deg, cond.tilt_y_deg, cond.angle_deg))
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    rot = rx @ ry @ rz
    src = np.array([[cx - side, cy - side], [cx + side, cy - side],
                    [cx + side, cy + side], [cx - side, cy + side]], np.float32)
    dst = []
    for sx, sy in src:
        p = rot @ np.array([sx - cx, sy - cy, 0.0]) + np.array([0, 0, _FOCAL])
        dst.append((cond.center[0] + _FOCAL * p[0] / p[2], cond.center[1] + _FOCAL * p[1] / p[2]))
    import cv2

    return cv2.getPerspectiveTransform(src, np.array(dst, np.float32))


def render(payload: str | None, cond: Conditions, rng: random.Random,
           bg: Image | None = None, *, show_card: bool = True) -> Image:
    """One BGR frame: ``bg`` (or a new background), the card if ``show_card``, camera effects."""
    import cv2
    import numpy as np

    # Any: OpenCV's stubs widen every array they return; the dtypes here are float32 then uint8.
    frame: Any = (background(rng) if bg is None else bg.copy()).astype(np.float32)
    if show_card:
        card, code = card_image(payload)
        modules = 21 if payload is None else _qr_modules(payload).shape[0]
        scale = cond.size_px / (modules * _HI_PX)
        small = cv2.resize(card, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        h = _homography(cond, code, scale)
        warped = cv2.warpPerspective(small, h, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(np.ones_like(small, np.float32), h, (WIDTH, HEIGHT),
                                   flags=cv2.INTER_LINEAR)[..., None]
        frame = frame * (1 - mask) + warped.astype(np.float32)[..., None] * mask
        if cond.thumb > 0:
            _thumb(frame, h, code, scale, cond.thumb, rng)
    if cond.blur_sigma > 0.05:
        frame = cv2.GaussianBlur(frame, (0, 0), cond.blur_sigma)
    if cond.motion_px > 1:
        kernel: Any = np.zeros((cond.motion_px, cond.motion_px), np.float32)
        kernel[cond.motion_px // 2, :] = 1.0 / cond.motion_px
        rot = cv2.getRotationMatrix2D(((cond.motion_px - 1) / 2,) * 2, cond.motion_deg, 1.0)
        kernel = cv2.warpAffine(kernel, rot, kernel.shape[::-1])
        frame = cv2.filter2D(frame, -1, kernel / max(kernel.sum(), 1e-6))
    ramp = 1.0 - cond.gradient * np.linspace(0, 1, WIDTH, dtype=np.float32)
    if rng.random() < 0.5:
        ramp = ramp[::-1]
    frame = frame * (cond.gain * ramp)[None, :, None]
    noise = np.random.default_rng(rng.getrandbits(32)).standard_normal(frame.shape, np.float32)
    frame += noise * np.float32(cond.noise_sigma)
    out: Any = np.clip(frame, 0, 255, out=frame).astype(np.uint8)
    if cond.jpeg_quality < 100:  # what a USB webcam's MJPG stream does to the picture
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, cond.jpeg_quality])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out


def _thumb(frame: np.ndarray, h: np.ndarray, code: tuple[int, int, int], scale: float,
           reach: float, rng: random.Random) -> None:
    """A thumb holding the card's bottom edge, reaching ``reach`` of the code's side into it."""
    import cv2
    import numpy as np

    x0, y0, side = (v * scale for v in code)
    # The bottom-right of a QR code has no finder pattern; a thumb there hides data only.
    # A rounded tip: a disc whose top edge is ``reach`` into the code, on a widening wedge.
    radius = side * 0.12
    tip = (x0 + side * rng.uniform(0.55, 0.9), y0 + side * (1 - reach) + radius)
    pts = np.array([[tip, (tip[0] - side * 0.2, y0 + side * 1.6),
                     (tip[0] + side * 0.2, y0 + side * 1.6),
                     (tip[0] + radius, tip[1]), (tip[0] - radius, tip[1])]], np.float32)
    poly = cv2.perspectiveTransform(pts, h)[0]
    skin = (120, 150, 200)
    cv2.fillConvexPoly(frame, poly[[3, 2, 1, 4]].astype(np.int32), skin)
    # The disc seen through the same perspective: its radius measured on the warped card.
    r = float(np.linalg.norm(poly[3] - poly[4])) / 2
    cv2.circle(frame, tuple(int(v) for v in poly[0]), max(1, int(r)), skin, -1)


def hard_set(n: int = 250, seed: int = 2026, empty: float = 0.08) -> list[tuple[Image, str | None]]:
    """``n`` (frame, expected payload or None) pairs; a fraction ``empty`` shows no code."""
    rng = random.Random(seed)
    out: list[tuple[Image, str | None]] = []
    for _ in range(n):
        cond = random_conditions(rng, hard=True)
        if rng.random() < empty:
            # Nothing, or a card's back turned to the camera: no code to read, none to invent.
            out.append((render(None, cond, rng, show_card=rng.random() < 0.5), None))
            continue
        payload = random_payload(rng)
        out.append((render(payload, cond, rng), payload))
    return out


def steady(cond: Conditions, rng: random.Random) -> Conditions:
    """The same card a moment later: a hand is never quite still."""
    return replace(
        cond,
        center=(cond.center[0] + rng.uniform(-3, 3), cond.center[1] + rng.uniform(-3, 3)),
        angle_deg=cond.angle_deg + rng.uniform(-2, 2),
    )
