"""A private Mosquitto with persistence, sized for a hub that acknowledges late."""

from __future__ import annotations

import os
from collections.abc import Sequence

from smartschool_cli.localservers.base import ServerError, ServerProcess, find_binary

SBIN = ("/usr/sbin", "/usr/local/sbin")


def mosquitto_binary() -> str | None:
    """Path of ``mosquitto``, or None when it is not installed."""
    return find_binary("mosquitto", *SBIN)


class Mosquitto(ServerProcess):
    """Mosquitto on a free loopback port with its own persistence file."""

    name = "mosquitto"

    @property
    def url(self) -> str:
        """``mqtt://host:port``."""
        return f"mqtt://{self.host}:{self.port}"

    def config_text(self) -> str:
        """The broker config; the queue limits matter for the no-loss guarantee."""
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.data_dir}/",
            "persistence_file mosquitto.db",
            "autosave_interval 1",
            # A hub worker that is down must find every message waiting, not the last 1000.
            "max_queued_messages 0",
            "max_queued_bytes 0",
            # v3.1.1 subscribers get no receive-maximum; let the client's window rule instead.
            "max_inflight_messages 0",
            "set_tcp_nodelay true",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "connection_messages true",
            "log_dest stdout",
        ]
        if os.geteuid() == 0:
            # Keep root so that the private data dir stays writable.
            lines.append("user root")
        return "\n".join(lines) + "\n"

    def prepare(self) -> None:
        (self.data_dir / "mosquitto.conf").write_text(self.config_text())

    def command(self) -> Sequence[str]:
        binary = mosquitto_binary()
        if binary is None:
            raise ServerError("mosquitto is not installed (apt-get install mosquitto)")
        return [binary, "-c", str(self.data_dir / "mosquitto.conf")]
