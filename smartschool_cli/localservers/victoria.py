"""A private single-node VictoriaMetrics that takes InfluxDB line protocol."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

import urllib3

from smartschool_cli.localservers.base import ServerError, ServerProcess, find_binary


def victoria_binary() -> str | None:
    """Path of ``victoria-metrics``, or None when it is not installed."""
    return find_binary("victoria-metrics", "/usr/bin", "/usr/local/bin")


class VictoriaError(RuntimeError):
    """VictoriaMetrics answered an HTTP error."""


class VictoriaMetrics(ServerProcess):
    """``victoria-metrics`` on a free loopback port; line protocol on /write and /api/v2/write.

    A line ``m,tag=a f=1`` becomes the series ``m_f{tag="a"}``. Ingested rows sit in a
    memory buffer for about a second: use ``wait_samples()`` (or ``flush()`` and poll)
    before reading what was just written.
    """

    name = "victoria-metrics"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=30))

    @property
    def url(self) -> str:
        """``http://127.0.0.1:port``."""
        return f"http://{self.host}:{self.port}"

    def command(self) -> Sequence[str]:
        binary = victoria_binary()
        if binary is None:
            raise ServerError(
                "victoria-metrics is not installed (apt-get install victoria-metrics)"
            )
        return [
            binary,
            f"-httpListenAddr={self.host}:{self.port}",
            f"-storageDataPath={self.data_dir / 'storage'}",
            "-retentionPeriod=100y",
            # By default the last 30 s are hidden from queries as possibly incomplete.
            "-search.latencyOffset=0s",
            # A cached query answer would hide points written after it.
            "-search.disableCache",
            "-loggerLevel=WARN",
        ]

    def is_ready(self) -> bool:
        """Whether GET /health answers 200."""
        try:
            resp = self._http.request("GET", f"{self.url}/health", timeout=1.0)
        except urllib3.exceptions.HTTPError:
            return False
        return resp.status == 200

    def _request(self, method: str, path: str, **kwargs: Any) -> urllib3.BaseHTTPResponse:
        resp = self._http.request(method, f"{self.url}{path}", **kwargs)
        if resp.status >= 300:
            raise VictoriaError(f"{method} {path}: HTTP {resp.status}: {resp.data[:500]!r}")
        return resp

    def write(self, lines: str | bytes | Iterable[str], precision: str = "ns") -> None:
        """Write InfluxDB line protocol through /write."""
        if isinstance(lines, str):
            body = lines.encode()
        elif isinstance(lines, bytes):
            body = lines
        else:
            body = "\n".join(lines).encode()
        self._request("POST", "/write?" + urlencode({"precision": precision}), body=body)

    def flush(self) -> None:
        """Make every ingested row searchable now (GET /internal/force_flush)."""
        self._request("GET", "/internal/force_flush")

    def export(self, match: str) -> list[dict[str, Any]]:
        """Raw series matching a selector, one dict per series: metric, values, timestamps."""
        # The default start is "now - retention"; 0 also takes points stamped in the distant past.
        query = urlencode({"match[]": match, "start": "0"})
        resp = self._request("GET", "/api/v1/export?" + query)
        return [json.loads(line) for line in resp.data.splitlines() if line.strip()]

    def sample_count(self, match: str) -> int:
        """How many samples all series matching ``match`` hold."""
        return sum(len(series["values"]) for series in self.export(match))

    def wait_samples(self, match: str, expected: int, timeout: float = 10.0) -> int:
        """Flush and poll until ``match`` holds ``expected`` samples or ``timeout`` passes.

        Returns the last count seen. A flushed row can still take a few hundred
        milliseconds to show up while its new series is registered in the index.
        """
        deadline = time.monotonic() + timeout
        while True:
            self.flush()
            count = self.sample_count(match)
            if count >= expected or time.monotonic() >= deadline:
                return count
            time.sleep(0.05)

    def series_count(self, metric: str) -> int:
        """How many series the metric has."""
        return len(self.export(metric))
