"""A private InfluxDB 1.x (Debian's ``influxd`` 1.6.7) speaking the v1 HTTP API."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import urllib3

from smartschool_cli.localservers.base import ServerError, ServerProcess, find_binary, free_port


def influxd_binary() -> str | None:
    """Path of ``influxd``, or None when it is not installed."""
    return find_binary("influxd", "/usr/bin", "/usr/local/bin")


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes, escaped."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class InfluxError(RuntimeError):
    """InfluxDB answered an HTTP error or a query error."""


class InfluxDB1(ServerProcess):
    """``influxd`` on a free loopback port with meta, data and WAL in a private dir."""

    name = "influxdb"

    def __init__(
        self, data_dir: Path, port: int | None = None, rpc_port: int | None = None
    ) -> None:
        super().__init__(data_dir, port)
        self.rpc_port = rpc_port or free_port()
        while self.rpc_port == self.port:
            self.rpc_port = free_port()
        # No retries: on loopback a failure should surface at once, not after backoff.
        self._http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=30))

    @property
    def url(self) -> str:
        """``http://127.0.0.1:port``."""
        return f"http://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        """The generated ``influxd`` config file."""
        return self.data_dir / "influxdb.conf"

    def config_text(self) -> str:
        """The TOML config: everything under the data dir, quiet, no phoning home."""
        root = self.data_dir
        return f"""\
reporting-disabled = true
bind-address = "{self.host}:{self.rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  # Write the WAL to disk before answering 204, so a kill loses nothing acknowledged.
  wal-fsync-delay = "0s"
  query-log-enabled = false
  trace-logging-enabled = false

[http]
  enabled = true
  bind-address = "{self.host}:{self.port}"
  auth-enabled = false
  log-enabled = false
  write-tracing = false
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  log-enabled = false
"""

    def prepare(self) -> None:
        self.config_path.write_text(self.config_text())

    def command(self) -> Sequence[str]:
        binary = influxd_binary()
        if binary is None:
            raise ServerError("influxd is not installed (apt-get install influxdb)")
        return [binary, "-config", str(self.config_path)]

    def environment(self) -> dict[str, str] | None:
        # influxd reads INFLUXDB_* variables over the config file; ours must win.
        return {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}

    def is_ready(self) -> bool:
        """Whether GET /ping answers 204."""
        try:
            resp = self._http.request("GET", f"{self.url}/ping", timeout=1.0)
        except urllib3.exceptions.HTTPError:
            return False
        return resp.status == 204

    def _request(self, method: str, path: str, **kwargs: Any) -> urllib3.BaseHTTPResponse:
        resp = self._http.request(method, f"{self.url}{path}", **kwargs)
        if resp.status >= 300:
            raise InfluxError(f"{method} {path}: HTTP {resp.status}: {resp.data[:500]!r}")
        return resp

    def query(self, q: str, db: str | None = None, method: str = "GET") -> dict[str, Any]:
        """Run InfluxQL through /query and return the decoded JSON; raise on errors."""
        fields = {"q": q, "epoch": "ns"}
        if db is not None:
            fields["db"] = db
        resp = self._request(method, "/query", fields=fields)
        body: dict[str, Any] = json.loads(resp.data)
        for result in body.get("results", []):
            if "error" in result:
                raise InfluxError(f"{q}: {result['error']}")
        if "error" in body:
            raise InfluxError(f"{q}: {body['error']}")
        return body

    def create_database(self, name: str) -> None:
        """Create a database (a no-op when it exists)."""
        self.query(f"CREATE DATABASE {quote_ident(name)}", method="POST")

    def drop_database(self, name: str) -> None:
        """Drop a database and its data."""
        self.query(f"DROP DATABASE {quote_ident(name)}", method="POST")

    def write(self, db: str, lines: str | bytes | Iterable[str], precision: str = "ns") -> None:
        """Write line protocol through the v1 /write API."""
        if isinstance(lines, str):
            body = lines.encode()
        elif isinstance(lines, bytes):
            body = lines
        else:
            body = "\n".join(lines).encode()
        self._request(
            "POST",
            "/write?" + urlencode({"db": db, "precision": precision}),
            body=body,
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )

    def count(self, db: str, measurement: str, field: str, since_ns: int | None = None) -> int:
        """``SELECT count(field) FROM measurement`` (from ``since_ns`` on); 0 for nothing."""
        where = "" if since_ns is None else f" WHERE time >= {int(since_ns)}"
        body = self.query(
            f"SELECT count({quote_ident(field)}) FROM {quote_ident(measurement)}{where}", db)
        total = 0
        for result in body.get("results", []):
            for series in result.get("series", []):
                for row in series.get("values", []):
                    total += int(row[1] or 0)
        return total
