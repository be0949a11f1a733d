"""``python -m hub``: the full hub (ingest + API + web pages) under uvicorn."""

from __future__ import annotations

from hub.serve import serve
from hub.settings import settings_for_process


def main() -> None:
    """Load settings from SS_* env vars and $SS_CONFIG, then serve until SIGTERM."""
    raise SystemExit(serve(settings_for_process()))


if __name__ == "__main__":
    main()
