"""``python -m hub``: the full hub (ingest + API + web pages) under uvicorn."""

from __future__ import annotations

import logging
import sys

from hub.serve import serve
from hub.settings import SettingsError, load_settings


def main() -> None:
    """Load settings from SS_* env vars and $SS_CONFIG, then serve until SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None
    raise SystemExit(serve(settings))


if __name__ == "__main__":
    main()
