"""Roster and balance snapshots from the hub, fetched with ETags and kept on disk.

``GET {hub}/api/v1/edge/roster?school=S`` and ``.../balances?school=S`` with the edge's bearer
token; ``If-None-Match`` with the version held makes an unchanged snapshot a bodiless 304. A
failed fetch is logged and counted and the last good snapshot stays in use: the door and the till
answer from it while the hub is away. The standard library's HTTP client in a thread keeps the
edge's dependencies small; two small requests a minute need nothing more.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge_agent.localdb import LocalDb, StoredSnapshot
from edge_agent.settings import HubSettings

log = logging.getLogger(__name__)

ROSTER, BALANCES = "roster", "balances"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class RosterCard(_Wire):
    """One card of the roster: whose it is and whether it may be used."""

    student: str
    name: str
    class_: str = Field(default="", alias="class")
    photo_url: str = ""
    status: str = "active"


class Roster(_Wire):
    """Every card of the school, as the hub last sent it."""

    version: str
    school: str
    cards: dict[str, RosterCard] = Field(default_factory=dict)


class CardBalance(_Wire):
    """One card's wallet as of the snapshot."""

    balance: int
    daily_limit: int | None = None
    spent_today: Annotated[int, Field(ge=0)] = 0


class Balances(_Wire):
    """Every card's balance, with the school's per-card offline limit."""

    version: str
    school: str
    offline_limit: Annotated[int, Field(ge=0)] = 0
    cards: dict[str, CardBalance] = Field(default_factory=dict)


_MODELS: dict[str, type[Roster] | type[Balances]] = {ROSTER: Roster, BALANCES: Balances}


class SnapshotError(Exception):
    """A snapshot could not be fetched or did not validate."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """The answer to one conditional GET: a new body, or ``None`` when unchanged (304)."""

    version: str | None
    body: bytes | None


def http_get(url: str, token: str, etag: str | None, timeout: float) -> Fetched:
    """One conditional GET (blocking: call in a thread)."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if etag:
        headers["If-None-Match"] = etag  # echoed as the hub wrote it, quoted or not
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) checked at load
            body = response.read()
            tag = response.headers.get("ETag")
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 304:
            return Fetched(None, None)
        raise SnapshotError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise SnapshotError(f"{url}: {reason}") from None
    return Fetched(tag.strip() if tag else None, body)


class Snapshots:
    """The roster and balances in use, refreshed from the hub; ``await run()`` until cancelled."""

    def __init__(
        self,
        hub: HubSettings,
        school: str,
        db: LocalDb,
        zone: ZoneInfo,
        pending_requests: Callable[[], Awaitable[list[int]]],
    ) -> None:
        self._hub = hub
        self._school = school
        self._db = db
        self._zone = zone
        self._pending = pending_requests
        self.roster: Roster | None = None
        self.balances: Balances | None = None
        self._stored: dict[str, StoredSnapshot] = {}
        self.wake = asyncio.Event()
        self.failures = 0
        self.fetches = 0
        self.not_modified = 0
        self.last_error: str | None = None

    async def load(self) -> None:
        """Take the snapshots kept on disk, so a box restarted offline still answers."""
        for name in (ROSTER, BALANCES):
            stored = await self._db.load_snapshot(name)
            if stored is None:
                continue
            try:
                self._use(name, stored)
            except ValidationError as error:
                log.error("stored %s snapshot unreadable, ignored: %s", name, error)
        log.info("snapshots loaded: roster %s, balances %s", self.version(ROSTER),
                 self.version(BALANCES))

    def _use(self, name: str, stored: StoredSnapshot) -> None:
        model = _MODELS[name].model_validate_json(stored.body)
        if name == ROSTER:
            assert isinstance(model, Roster)
            self.roster = model
        else:
            assert isinstance(model, Balances)
            self.balances = model
        self._stored[name] = stored

    def version(self, name: str) -> str | None:
        """The version of snapshot ``name`` in use."""
        stored = self._stored.get(name)
        return stored.version.removeprefix("W/").strip('"') if stored else None

    def age_s(self, name: str) -> float | None:
        """Seconds since the hub last confirmed snapshot ``name``; None without one."""
        stored = self._stored.get(name)
        return None if stored is None else max(0.0, time.time() - stored.checked_at)

    def fetched_day(self, name: str) -> str | None:
        """The school day (``YYYY-MM-DD``) on which snapshot ``name`` was fetched."""
        stored = self._stored.get(name)
        if stored is None:
            return None
        return datetime.fromtimestamp(stored.fetched_at, self._zone).date().isoformat()

    def status(self) -> dict[str, Any]:
        """Versions, ages and counters for the status page and the ``sync`` answer."""
        return {
            name: {
                "version": self.version(name),
                "age_s": None if (a := self.age_s(name)) is None else round(a, 1),
                "cards": len(model.cards) if (model := getattr(self, name)) is not None else 0,
            }
            for name in (ROSTER, BALANCES)
        } | {"failures": self.failures, "last_error": self.last_error}

    def _url(self, name: str) -> str:
        return f"{self._hub.url}/api/v1/edge/{name}?{urlencode({'school': self._school})}"

    async def fetch(self, name: str) -> Literal["new", "unchanged"]:
        """Fetch snapshot ``name`` once; raise SnapshotError (counted) when it fails."""
        started = time.time()
        # Before the GET: a sale still in the outbox now cannot be in what the hub sends.
        pending = await self._pending() if name == BALANCES else []
        try:
            got = await asyncio.to_thread(
                http_get, self._url(name), self._hub.token.get_secret_value(),
                self._stored[name].version if name in self._stored else None,
                self._hub.http_timeout_s,
            )
            if got.body is None:
                self.not_modified += 1
                if name in self._stored:
                    await self._db.touch_snapshot(name, time.time())
                    old = self._stored[name]
                    self._stored[name] = StoredSnapshot(
                        name, old.version, old.fetched_at, time.time(), old.body)
                return "unchanged"
            try:
                model = _MODELS[name].model_validate_json(got.body)
            except ValidationError as error:
                raise SnapshotError(f"{name} snapshot does not validate: {error}") from None
            if model.school != self._school:
                raise SnapshotError(f"{name} snapshot is for school {model.school!r}")
            now = time.time()
            stored = StoredSnapshot(name, got.version or model.version, now, now, got.body)
            await self._db.save_snapshot(
                stored, settle_before=started if name == BALANCES else None,
                pending_outbox=pending,
            )
            self._use(name, stored)
            self.fetches += 1
            return "new"
        except SnapshotError as error:
            self.failures += 1
            self.last_error = str(error)
            raise

    async def refresh(self) -> dict[str, str]:
        """Fetch both snapshots; failures are logged and counted, the old ones kept."""
        outcome: dict[str, str] = {}
        for name in (ROSTER, BALANCES):
            try:
                outcome[name] = await self.fetch(name)
            except SnapshotError as error:
                outcome[name] = "failed"
                log.warning("snapshot %s not refreshed (keeping %s): %s", name,
                            self.version(name), error)
        return outcome

    def request_sync(self) -> None:
        """Refresh now rather than at the next period (the ``sync`` command)."""
        self.wake.set()

    async def run(self) -> None:
        """Refresh every ``snapshot_every_s`` and whenever asked, until cancelled."""
        while True:
            self.wake.clear()
            await self.refresh()
            try:
                await asyncio.wait_for(self.wake.wait(), self._hub.snapshot_every_s)
            except TimeoutError:
                pass


def as_json(model: BaseModel) -> str:
    """A snapshot's wire JSON (aliases kept), for tests and tools."""
    return json.dumps(model.model_dump(by_alias=True), ensure_ascii=False)
