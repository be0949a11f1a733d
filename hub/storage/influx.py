"""Telemetry stores: the InfluxDB v1 HTTP API (urllib3) and the v2 API (influxdb-client).

A writer takes line-protocol strings. It raises ``RetryableWriteError`` when trying again may
succeed (store down, overloaded, misconfigured for now) and ``RejectedWriteError`` when the store
refused the points themselves, which no retry can fix.
"""

from __future__ import annotations

import logging
from typing import Protocol
from urllib.parse import quote, urlencode

import urllib3

from hub.settings import HubSettings

log = logging.getLogger(__name__)


class WriteError(RuntimeError):
    """A batch that was not written."""


class RetryableWriteError(WriteError):
    """The store did not take the batch now; the same batch may succeed later."""


class RejectedWriteError(WriteError):
    """The store refused the points as malformed; retrying cannot help."""


class TelemetryWriter(Protocol):
    """Something that durably writes a batch of line-protocol strings."""

    def write(self, lines: list[str]) -> None:
        """Write all lines or raise WriteError."""

    def ping(self) -> bool:
        """Whether the store answers."""

    def close(self) -> None:
        """Release connections."""


def _classify(status: int, body: str) -> WriteError:
    # 400 is "bad line protocol" or "partial write" (the good points were written); 422 is
    # v2's "unprocessable". Auth, missing bucket, throttling and 5xx may all heal.
    if status in (400, 422):
        return RejectedWriteError(f"store refused the batch ({status}): {body[:300]}")
    return RetryableWriteError(f"store answered {status}: {body[:300]}")


class InfluxV1Writer:
    """POST ``/write?db=..&precision=ns`` with keep-alive connections."""

    def __init__(self, url: str, database: str, username: str | None = None,
                 password: str | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.database = database
        params = {"db": database, "precision": "ns"}
        if username:
            params |= {"u": username, "p": password or ""}
        self._write_url = f"{self.url}/write?{urlencode(params)}"
        self._pool = urllib3.PoolManager(
            num_pools=2, maxsize=4, timeout=urllib3.Timeout(total=timeout), retries=False
        )

    def _post(self, url: str, body: bytes) -> urllib3.BaseHTTPResponse:
        try:
            return self._pool.request("POST", url, body=body)
        except urllib3.exceptions.HTTPError as error:
            raise RetryableWriteError(f"InfluxDB at {self.url} unreachable: {error}") from error

    def create_database(self) -> None:
        """``CREATE DATABASE`` (a no-op when it exists)."""
        query = urlencode({"q": f'CREATE DATABASE "{self.database}"'}, quote_via=quote)
        response = self._post(f"{self.url}/query?{query}", b"")
        if response.status >= 300:
            raise RetryableWriteError(f"cannot create database {self.database}: {response.status}")

    def write(self, lines: list[str]) -> None:
        """Write the batch; create the database once if InfluxDB says it does not exist."""
        body = "\n".join(lines).encode()
        response = self._post(self._write_url, body)
        if response.status == 404 and b"database not found" in response.data:
            log.warning("InfluxDB database %s not found; creating it", self.database)
            self.create_database()
            response = self._post(self._write_url, body)
        if response.status != 204:
            raise _classify(response.status, response.data.decode(errors="replace"))

    def ping(self) -> bool:
        """``GET /ping`` answers 204."""
        try:
            return self._pool.request("GET", f"{self.url}/ping", timeout=2.0).status == 204
        except urllib3.exceptions.HTTPError:
            return False

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.clear()


class InfluxV2Writer:
    """``write_api(SYNCHRONOUS).write(bucket, org, record=lines)`` of influxdb-client."""

    def __init__(self, url: str, org: str, bucket: str, token: str | None,
                 timeout_ms: int = 10_000) -> None:
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.url, self.org, self.bucket = url, org, bucket
        self._client = InfluxDBClient(url=url, token=token or "", org=org, timeout=timeout_ms)
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, lines: list[str]) -> None:
        """Write the batch with nanosecond precision."""
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError

        try:
            self._write_api.write(bucket=self.bucket, org=self.org, record=lines)
        except ApiException as error:
            raise _classify(int(error.status or 0), str(error.body or error.reason)) from error
        except (HTTPError, OSError) as error:
            raise RetryableWriteError(f"InfluxDB at {self.url} unreachable: {error}") from error

    def ping(self) -> bool:
        """``GET /ping`` answers."""
        try:
            return bool(self._client.ping())
        except Exception:  # noqa: BLE001 - any failure means "not ok" for a health check
            return False

    def close(self) -> None:
        """Close the client."""
        self._write_api.close()
        self._client.close()


def make_writer(settings: HubSettings) -> TelemetryWriter | None:
    """The writer the settings ask for, or None when no telemetry store is configured."""
    if settings.influx_url is None:
        return None
    if settings.influx_api == "v2":
        return InfluxV2Writer(
            settings.influx_url, settings.influx_org, settings.influx_bucket, settings.influx_token
        )
    return InfluxV1Writer(settings.influx_url, settings.influx_db)
