"""``python -m hub``: the full hub (ingest + API + web pages) under uvicorn."""

from __future__ import annotations

import logging
import sys

import uvicorn

from hub.app import create_app
from hub.settings import SettingsError, load_settings


def main() -> None:
    """Load settings from SS_* env vars and $SS_CONFIG, then serve until SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port,
                log_level="info")


if __name__ == "__main__":
    main()
