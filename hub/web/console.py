"""The technicians' console: one static page (``/console``) and its script and style.

The page holds no data of its own: it signs in with a bearer token the technician pastes, then
reads and writes through the token-protected health and command APIs. Nothing here needs the
token, because nothing here is data; the page's policy keeps it on this hub's own origin (no
external scripts, styles or connections) and out of other sites' frames (a page that can reboot
boxes must not be clickable through someone else's overlay).
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse
from starlette.responses import Response

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Only the console's own files and the shared icon: a name is matched whole, never joined as given.
_FILES = re.compile(r"(console\.(js|css)|favicon\.svg)")
_MEDIA_TYPES = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
_PAGE_HEADERS = {
    # After a deploy, a reload must fetch the new files.
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    # The token travels in a header only, but the page's address must not leak either.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

router = APIRouter(tags=["console"])


@router.get("/console", include_in_schema=False)
async def console() -> FileResponse:
    """The technicians' console page."""
    return FileResponse(STATIC_DIR / "console.html", media_type="text/html", headers=_PAGE_HEADERS)


@router.get("/console/static/{name}", include_in_schema=False)
async def console_static(name: str) -> Response:
    """The console's script, style and icon, from the installed package."""
    if _FILES.fullmatch(name) is None:
        return JSONResponse(
            {"detail": {"vi": "Không tìm thấy", "en": "Not found"}}, status_code=404
        )
    return FileResponse(
        STATIC_DIR / name,
        media_type=_MEDIA_TYPES[name],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
