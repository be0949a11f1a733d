"""QR decoding of a grayscale frame by zxing-cpp or pyzbar, imported only when used.

Both are restricted to QR codes. With ``retry_upscaled`` a frame where nothing was found is
tried once more at twice the size: small or tilted codes (2-3 px per module) are the usual
miss, and the second attempt costs time only on frames without a readable code.
See ``benchmarks/qr.py`` for what each choice reads and costs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Gray = npt.NDArray[np.uint8]
else:
    Gray = Any

DecoderName = Literal["zxing", "pyzbar"]
Decode = Callable[[Gray], list[bytes]]


def zxing_decoder() -> Decode:
    """zxing-cpp: QR only, dark-on-light only (printed cards are never inverted)."""
    import zxingcpp

    qr = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)

    def decode(gray: Gray) -> list[bytes]:
        """The payloads of the QR codes in ``gray``."""
        return [bytes(r.bytes) for r in zxingcpp.read_barcodes(gray, formats=qr, try_invert=False)]

    return decode


def pyzbar_decoder() -> Decode:
    """pyzbar (libzbar0): QR only."""
    from pyzbar.pyzbar import ZBarSymbol
    from pyzbar.pyzbar import decode as zbar_decode

    symbols = [ZBarSymbol.QRCODE]

    def decode(gray: Gray) -> list[bytes]:
        """The payloads of the QR codes in ``gray``."""
        return [r.data for r in zbar_decode(gray, symbols=symbols)]

    return decode


def upscaled_retry(first: Decode) -> Decode:
    """``first``, then ``first`` on the frame enlarged 2× when the first attempt found nothing."""
    import cv2

    def decode(gray: Gray) -> list[bytes]:
        """The payloads found at full size, else at twice the size."""
        found = first(gray)
        if found:
            return found
        bigger = cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
        return first(cast("Gray", bigger))

    return decode


def make_decoder(name: DecoderName, *, retry_upscaled: bool = True) -> Decode:
    """The decode function a driver calls on every frame."""
    base = zxing_decoder() if name == "zxing" else pyzbar_decoder()
    return upscaled_retry(base) if retry_upscaled else base
