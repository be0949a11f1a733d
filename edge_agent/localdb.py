"""The box's own state beside the outbox: the last good snapshots, the offline sales, and the
acks of recent commands (so a redelivered command is answered again, not carried out again).

A separate SQLite file next to the outbox (WAL, ``synchronous=FULL``, one worker thread, as
the outbox does) so that a box restarted without the hub still answers from the roster it had,
and still knows what it sold offline today.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from edge_agent.sqlite_thread import ThreadedSqlite

log = logging.getLogger(__name__)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    name       TEXT PRIMARY KEY,
    version    TEXT NOT NULL,
    fetched_at REAL NOT NULL,
    checked_at REAL NOT NULL,
    body       BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS offline_sales (
    id          TEXT PRIMARY KEY,
    device      TEXT NOT NULL,
    card        TEXT NOT NULL,
    amount      INTEGER NOT NULL,
    day         TEXT NOT NULL,
    recorded_at REAL NOT NULL,
    outbox_id   INTEGER,
    settled     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS offline_sales_card ON offline_sales (card, day);
CREATE TABLE IF NOT EXISTS commands (
    id          TEXT PRIMARY KEY,
    cmd         TEXT NOT NULL,
    ack         BLOB NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS commands_received ON commands (received_at);
"""

#: Acks of commands are kept this long, and at most this many: far longer than a broker keeps
#: a command for an absent box, so a redelivery always finds its ack.
COMMANDS_KEEP_S = 7 * 86400
COMMANDS_KEEP_ROWS = 1000


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """One snapshot as kept on disk: its version, when fetched and last confirmed, its JSON."""

    name: str
    version: str
    fetched_at: float
    checked_at: float
    body: bytes


@dataclass(frozen=True, slots=True)
class CardSpending:
    """What this box sold offline to one card: today, and not yet in a balance snapshot."""

    today: int
    unsettled: int


def state_path(outbox_path: Path) -> Path:
    """Where the local state lives: beside the outbox."""
    return outbox_path.with_name("edge-state.sqlite")


class LocalDb(ThreadedSqlite):
    """Snapshots, offline sales and command acks in SQLite; ``async with LocalDb(path):``."""

    store_name = "edge-state"

    def _open(self) -> None:
        self._connect(_SCHEMA)

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("local state is not open")
        return self._db

    # -- snapshots ---------------------------------------------------------------------------

    async def load_snapshot(self, name: str) -> StoredSnapshot | None:
        """The last good snapshot called ``name``, or None before the first."""
        return await self._call(self._load_snapshot, name)

    def _load_snapshot(self, name: str) -> StoredSnapshot | None:
        row = self._conn.execute(
            "SELECT name, version, fetched_at, checked_at, body FROM snapshots WHERE name = ?",
            (name,),
        ).fetchone()
        return None if row is None else StoredSnapshot(row[0], row[1], row[2], row[3], bytes(row[4]))

    async def save_snapshot(
        self, snapshot: StoredSnapshot, *, settle_before: float | None = None,
        pending_outbox: Iterable[int] = (),
    ) -> None:
        """Keep ``snapshot``; a balance snapshot also settles the offline sales it includes.

        A sale is in the hub's balances when it was recorded before the fetch started and its
        ``pay`` had left the outbox (PUBACK) by then; the others still count against the card.
        """
        await self._call(self._save_snapshot, snapshot, settle_before, tuple(pending_outbox))

    def _save_snapshot(
        self, snapshot: StoredSnapshot, settle_before: float | None, pending: tuple[int, ...]
    ) -> None:
        db = self._conn
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT OR REPLACE INTO snapshots (name, version, fetched_at, checked_at, body) "
                "VALUES (?, ?, ?, ?, ?)",
                (snapshot.name, snapshot.version, snapshot.fetched_at, snapshot.checked_at,
                 snapshot.body),
            )
            if settle_before is not None:
                db.execute("CREATE TEMP TABLE IF NOT EXISTS pending (id INTEGER PRIMARY KEY)")
                db.execute("DELETE FROM pending")
                db.executemany("INSERT OR IGNORE INTO pending (id) VALUES (?)",
                               [(i,) for i in pending])
                db.execute(
                    "UPDATE offline_sales SET settled = 1 WHERE settled = 0 AND recorded_at < ? "
                    "AND (outbox_id IS NULL OR outbox_id NOT IN (SELECT id FROM pending))",
                    (settle_before,),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def touch_snapshot(self, name: str, checked_at: float) -> None:
        """Record that the hub confirmed snapshot ``name`` is still current (a 304)."""
        await self._call(
            lambda: self._conn.execute(
                "UPDATE snapshots SET checked_at = ? WHERE name = ?", (checked_at, name)
            )
        )

    # -- offline sales -----------------------------------------------------------------------

    async def record_sale(
        self, sale_id: str, device: str, card: str, amount: int, day: str, recorded_at: float
    ) -> None:
        """Commit one offline-approved sale (fsynced) before it is shown as approved."""
        await self._call(self._record_sale, sale_id, device, card, amount, day, recorded_at)

    def _record_sale(
        self, sale_id: str, device: str, card: str, amount: int, day: str, recorded_at: float
    ) -> None:
        self._conn.execute(
            "INSERT INTO offline_sales (id, device, card, amount, day, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (sale_id, device, card, amount, day, recorded_at),
        )

    async def link_sale(self, sale_id: str, outbox_id: int) -> None:
        """Remember which outbox entry carries the sale, to know when the hub may have it."""
        await self._call(
            lambda: self._conn.execute(
                "UPDATE offline_sales SET outbox_id = ? WHERE id = ?", (outbox_id, sale_id)
            )
        )

    async def spending(self, card: str, day: str) -> CardSpending:
        """What this box sold offline to ``card`` on ``day``, and what no snapshot includes."""
        return await self._call(self._spending, card, day)

    def _spending(self, card: str, day: str) -> CardSpending:
        today, unsettled = self._conn.execute(
            "SELECT COALESCE(SUM(CASE WHEN day = ? THEN amount END), 0), "
            "COALESCE(SUM(CASE WHEN settled = 0 THEN amount END), 0) "
            "FROM offline_sales WHERE card = ?",
            (day, card),
        ).fetchone()
        return CardSpending(today=today, unsettled=unsettled)

    # -- command acks ------------------------------------------------------------------------

    async def recall_command(self, command_id: str) -> bytes | None:
        """The ack given to command ``command_id``, or None if it was never answered."""
        return await self._call(self._recall_command, command_id)

    def _recall_command(self, command_id: str) -> bytes | None:
        row = self._conn.execute("SELECT ack FROM commands WHERE id = ?", (command_id,)).fetchone()
        return None if row is None else bytes(row[0])

    async def remember_command(self, command_id: str, cmd: str, ack: bytes,
                               received_at: float) -> None:
        """Commit the ack of a command (fsynced) before it is published; forget old ones."""
        await self._call(self._remember_command, command_id, cmd, ack, received_at)

    def _remember_command(self, command_id: str, cmd: str, ack: bytes, received_at: float) -> None:
        db = self._conn
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("INSERT OR IGNORE INTO commands (id, cmd, ack, received_at) "
                       "VALUES (?, ?, ?, ?)", (command_id, cmd, ack, received_at))
            db.execute("DELETE FROM commands WHERE received_at < ?",
                       (received_at - COMMANDS_KEEP_S,))
            db.execute("DELETE FROM commands WHERE id NOT IN "
                       "(SELECT id FROM commands ORDER BY received_at DESC LIMIT ?)",
                       (COMMANDS_KEEP_ROWS,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def sales_count(self) -> int:
        """Offline sales on record (for checks)."""
        return await self._call(
            lambda: self._conn.execute("SELECT COUNT(*) FROM offline_sales").fetchone()[0]
        )
