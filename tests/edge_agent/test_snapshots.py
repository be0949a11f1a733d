"""Roster and balance snapshots: ETag/304, failures that keep the last good one, kept on disk.

The hub's snapshot endpoints are stood in for by a tiny real HTTP server (stdlib http.server
in a thread, ``cardkit.SnapshotServer``) serving exactly their shapes with ETag and 304.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge_agent.localdb import LocalDb
from edge_agent.settings import HubSettings
from edge_agent.snapshots import Snapshots
from tests.edge_agent.cardkit import MAI_ANH, TOKEN, SnapshotServer, roster_body
from tests.edge_agent.helpers import SCHOOL

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def server() -> Iterator[SnapshotServer]:
    s = SnapshotServer()
    yield s
    s.close()


async def _none() -> list[int]:
    return []


def _client(url: str, db: LocalDb, token: str = TOKEN) -> Snapshots:
    hub = HubSettings(url=url, token=token, http_timeout_s=5)  # type: ignore[arg-type]
    return Snapshots(hub, SCHOOL, db, ZONE, _none)


async def test_etag_makes_an_unchanged_snapshot_a_304(
    server: SnapshotServer, tmp_path: Path
) -> None:
    async with LocalDb(tmp_path / "state.sqlite") as db:
        snaps = _client(server.url, db)
        assert await snaps.refresh() == {"roster": "new", "balances": "new"}
        assert snaps.roster is not None and snaps.roster.cards[MAI_ANH].class_ == "10A1"
        assert snaps.balances is not None and snaps.balances.offline_limit == 50_000
        assert await snaps.refresh() == {"roster": "unchanged", "balances": "unchanged"}
        assert server.hits == {200: 2, 304: 2}
        assert snaps.not_modified == 2

        changed = roster_body("r2")
        del changed["cards"][MAI_ANH]
        server.bodies["roster"] = changed
        assert (await snaps.refresh())["roster"] == "new"
        assert snaps.version("roster") == "r2" and MAI_ANH not in snaps.roster.cards
        age = snaps.age_s("roster")
        assert age is not None and age < 5
        assert snaps.status()["roster"]["cards"] == 2


async def test_failures_are_counted_and_the_last_good_snapshot_kept(
    server: SnapshotServer, tmp_path: Path
) -> None:
    async with LocalDb(tmp_path / "state.sqlite") as db:
        snaps = _client(server.url, db)
        await snaps.refresh()
        wrong = _client(server.url, db, token="not-the-token")
        await wrong.load()
        assert await wrong.refresh() == {"roster": "failed", "balances": "failed"}
        assert wrong.failures == 2 and "HTTP 401" in (wrong.last_error or "")
        assert wrong.roster is not None and MAI_ANH in wrong.roster.cards  # kept

        server.close()
        assert (await snaps.refresh())["roster"] == "failed"
        assert snaps.failures == 2 and snaps.version("roster") == "r1"

        other = SnapshotServer()
        other.bodies["roster"] = {"version": "bad", "school": SCHOOL, "cards": {"em:1": 5}}
        try:
            bad = _client(other.url, db)
            await bad.load()
            assert (await bad.refresh())["roster"] == "failed"
            assert "does not validate" in (bad.last_error or "")
            assert bad.version("roster") == "r1"
        finally:
            other.close()


async def test_snapshots_survive_a_restart_without_the_hub(
    server: SnapshotServer, tmp_path: Path
) -> None:
    path = tmp_path / "state.sqlite"
    async with LocalDb(path) as db:
        await _client(server.url, db).refresh()
    server.close()
    async with LocalDb(path) as db:
        snaps = _client(server.url, db)
        await snaps.load()
        assert snaps.version("roster") == "r1" and snaps.version("balances") == "b1"
        assert snaps.roster is not None and snaps.roster.cards[MAI_ANH].name == "Nguyễn Thị Mai Anh"
        assert snaps.balances is not None and snaps.balances.cards[MAI_ANH].balance == 120_000
