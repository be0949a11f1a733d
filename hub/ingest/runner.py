"""Run the ingest alone (no web app), until SIGTERM or SIGINT: for benchmarks and workers."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.ingest.service import Ingest
from hub.settings import HubSettings, settings_for_process

log = logging.getLogger(__name__)


def run_ingest(settings: HubSettings, stop: threading.Event | None = None) -> None:
    """Migrate the database, run the ingest, and block until a signal (or ``stop``) comes."""
    stop = stop or threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping ingest", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    upgrade_to_head(settings.db_url)
    engine = make_engine(settings.db_url)
    try:
        with Ingest(settings, engine=engine):
            stop.wait()
    finally:
        engine.dispose()


def main() -> None:
    """``python -m hub.ingest.runner``: settings from SS_* env vars and $SS_CONFIG."""
    run_ingest(settings_for_process())


if __name__ == "__main__":
    main()
