"""The durable outbox: every message to publish is committed here first and leaves after PUBACK.

SQLite in WAL mode with ``synchronous=FULL``: a commit is on disk (fsynced) before ``put``
returns, so a power cut after a card tap was shown as accepted cannot lose it. Entries drain in
insertion order (``id``). ``seq`` counts up per edge across restarts and is taken in the same
transaction as the insert, so a crash can neither reuse nor skip one.

Every SQLite call runs on the store's own thread (see ``sqlite_thread``), so puts keep their
order and an fsync never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from edge_agent.sqlite_thread import ThreadedSqlite

log = logging.getLogger(__name__)

T = TypeVar("T")

#: A payload, or a function that builds it from the ``seq`` allocated for it.
Payload = bytes | Callable[[int], bytes]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    kind    TEXT    NOT NULL,
    topic   TEXT    NOT NULL,
    qos     INTEGER NOT NULL,
    seq     INTEGER,
    payload BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_kind ON outbox (kind, id);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters (name, value) VALUES ('seq', 0);
-- Entries the broker refused (MQTT 5 reason code): kept, never sent again unless requeued.
CREATE TABLE IF NOT EXISTS refused (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,
    topic       TEXT    NOT NULL,
    qos         INTEGER NOT NULL,
    seq         INTEGER,
    payload     BLOB    NOT NULL,
    reason      TEXT    NOT NULL,
    refused_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
"""


class Kind(StrEnum):
    """What an entry is; only telemetry may be shed."""

    TELEMETRY = "telemetry"
    EVENT = "event"
    REQUEST = "req"


@dataclass(frozen=True, slots=True)
class Entry:
    """One message waiting for the broker's PUBACK."""

    id: int
    kind: Kind
    topic: str
    qos: int
    seq: int | None
    payload: bytes


class Outbox(ThreadedSqlite):
    """A SQLite-backed FIFO of messages to publish; open with ``async with Outbox(path):``."""

    store_name = "outbox"

    def __init__(
        self,
        path: str | Path,
        *,
        telemetry_budget_bytes: int = 64 * 1024 * 1024,
        telemetry_max_rows: int | None = None,
    ) -> None:
        super().__init__(path)
        self.telemetry_budget_bytes = telemetry_budget_bytes
        self.telemetry_max_rows = telemetry_max_rows
        self._count = 0
        self._refused = 0
        self._refused_telemetry_rows = 0
        self._refused_telemetry_bytes = 0
        self._telemetry_rows = 0
        self._telemetry_bytes = 0
        self.shed_total = 0
        #: Set after every put, so a drainer waiting for work wakes up.
        self.changed = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------

    def _open(self) -> None:
        db = self._connect(_SCHEMA)
        self._count = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        self._telemetry_rows, self._telemetry_bytes = self._telemetry_in("outbox")
        self._refused = db.execute("SELECT COUNT(*) FROM refused").fetchone()[0]
        self._refused_telemetry_rows, self._refused_telemetry_bytes = self._telemetry_in("refused")
        log.info("outbox %s opened with %d waiting", self.path, self._count)
        if self._refused:
            log.warning("outbox %s holds %d entries the broker refused (a sync command sends "
                        "them again)", self.path, self._refused)

    def _telemetry_in(self, table: str) -> tuple[int, int]:
        """(rows, payload bytes) of the telemetry in ``table``."""
        rows, size = self._conn.execute(
            f"SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM {table} WHERE kind = ?",
            (Kind.TELEMETRY.value,),
        ).fetchone()
        return int(rows), int(size)

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("outbox is not open")
        return self._db

    # -- writing -----------------------------------------------------------------------------

    async def put(self, topic: str, payload: Payload, qos: int, kind: Kind) -> Entry:
        """Commit one message (fsynced) and return it; a callable payload gets a fresh seq."""
        entry = await self._call(self._put, topic, payload, qos, Kind(kind))
        self.changed.set()
        return entry

    def _put(self, topic: str, payload: Payload, qos: int, kind: Kind) -> Entry:
        db = self._conn
        db.execute("BEGIN IMMEDIATE")
        try:
            seq: int | None = None
            if callable(payload):
                seq = db.execute(
                    "UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value"
                ).fetchone()[0]
                data = payload(seq)
            else:
                data = payload
            cursor = db.execute(
                "INSERT INTO outbox (kind, topic, qos, seq, payload) VALUES (?, ?, ?, ?, ?)",
                (kind.value, topic, qos, seq, data),
            )
            shed = self._shed(len(data)) if kind is Kind.TELEMETRY else (0, 0)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        assert cursor.lastrowid is not None
        self._count += 1 - shed[0]
        if kind is Kind.TELEMETRY:
            self._telemetry_rows += 1 - shed[0]
            self._telemetry_bytes += len(data) - shed[1]
        if shed[0]:
            self.shed_total += shed[0]
            log.warning("outbox over its telemetry budget: shed %d oldest readings", shed[0])
        return Entry(cursor.lastrowid, kind, topic, qos, seq, data)

    def _shed(self, new_bytes: int) -> tuple[int, int]:
        """Delete the oldest telemetry rows over the budget; return (rows, bytes) removed."""
        return self._shed_oldest("outbox", self._telemetry_rows + 1,
                                 self._telemetry_bytes + new_bytes)

    def _shed_oldest(self, table: str, rows: int, size: int) -> tuple[int, int]:
        """Delete ``table``'s oldest telemetry while its ``rows`` rows of ``size`` bytes are over
        the budget; return (rows, bytes) removed."""
        victims: list[tuple[int, int]] = []
        max_rows = self.telemetry_max_rows
        if size <= self.telemetry_budget_bytes and (max_rows is None or rows <= max_rows):
            return 0, 0
        cursor = self._conn.execute(
            f"SELECT id, LENGTH(payload) FROM {table} WHERE kind = ? ORDER BY id",
            (Kind.TELEMETRY.value,),
        )
        while size > self.telemetry_budget_bytes or (max_rows is not None and rows > max_rows):
            row = cursor.fetchone()
            if row is None:
                break
            victims.append(row)
            rows -= 1
            size -= row[1]
        cursor.close()
        if victims:
            self._conn.executemany(f"DELETE FROM {table} WHERE id = ?", [(v[0],) for v in victims])
        return len(victims), sum(v[1] for v in victims)

    # -- draining ----------------------------------------------------------------------------

    async def peek(self, after_id: int = 0, limit: int = 64) -> list[Entry]:
        """Up to ``limit`` entries with ``id > after_id``, oldest first."""
        return await self._call(self._peek, after_id, limit)

    def _peek(self, after_id: int, limit: int) -> list[Entry]:
        rows = self._conn.execute(
            "SELECT id, kind, topic, qos, seq, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        ).fetchall()
        return [Entry(r[0], Kind(r[1]), r[2], r[3], r[4], bytes(r[5])) for r in rows]

    async def ack(self, ids: Sequence[int]) -> None:
        """Remove entries the broker acknowledged (unknown ids, e.g. already shed, are fine)."""
        if ids:
            await self._call(self._ack, list(ids))

    def _ack(self, ids: list[int]) -> None:
        db = self._conn
        db.execute("BEGIN IMMEDIATE")
        try:
            marks = ",".join("?" * len(ids))
            rows, size = db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox "
                f"WHERE kind = ? AND id IN ({marks})",
                (Kind.TELEMETRY.value, *ids),
            ).fetchone()
            removed = db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", ids).rowcount
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._count -= removed
        self._telemetry_rows -= rows
        self._telemetry_bytes -= size

    async def refuse(self, refusals: Sequence[tuple[int, str]]) -> None:
        """Move entries the broker refused, with its reasons, to the refused table."""
        if refusals:
            await self._call(self._refuse, list(refusals))

    def _refuse(self, refusals: list[tuple[int, str]]) -> None:
        db = self._conn
        db.execute("BEGIN IMMEDIATE")
        try:
            moved = rows = size = 0  # all entries moved; of them, telemetry rows and bytes
            for entry_id, reason in refusals:
                row = db.execute(
                    "SELECT kind, LENGTH(payload) FROM outbox WHERE id = ?", (entry_id,)
                ).fetchone()
                if row is None:
                    continue  # shed meanwhile
                db.execute(
                    "INSERT OR REPLACE INTO refused (id, kind, topic, qos, seq, payload, reason) "
                    "SELECT id, kind, topic, qos, seq, payload, ? FROM outbox WHERE id = ?",
                    (reason, entry_id),
                )
                db.execute("DELETE FROM outbox WHERE id = ?", (entry_id,))
                moved += 1
                if row[0] == Kind.TELEMETRY.value:
                    rows, size = rows + 1, size + row[1]
            # A box refused for days must not fill its disk: refused telemetry has a budget
            # like the queue's; requests and events are never shed.
            shed = self._shed_oldest("refused", self._refused_telemetry_rows + rows,
                                     self._refused_telemetry_bytes + size)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._count -= moved
        self._telemetry_rows -= rows
        self._telemetry_bytes -= size
        self._refused += moved - shed[0]
        self._refused_telemetry_rows += rows - shed[0]
        self._refused_telemetry_bytes += size - shed[1]
        if shed[0]:
            self.shed_total += shed[0]
            log.warning("refused telemetry over the budget: shed %d oldest readings", shed[0])

    async def requeue_refused(self) -> int:
        """Queue every refused entry again, oldest first, after what waits now; how many."""
        moved: int = await self._call(self._requeue_refused)
        if moved:
            self.changed.set()
        return moved

    def _requeue_refused(self) -> int:
        db = self._conn
        db.execute("BEGIN IMMEDIATE")
        try:
            # New ids at the end of the queue; seq and payload stay as they were.
            moved = db.execute(
                "INSERT INTO outbox (kind, topic, qos, seq, payload) "
                "SELECT kind, topic, qos, seq, payload FROM refused ORDER BY id"
            ).rowcount
            db.execute("DELETE FROM refused")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._count += moved
        self._telemetry_rows += self._refused_telemetry_rows
        self._telemetry_bytes += self._refused_telemetry_bytes
        self._refused = self._refused_telemetry_rows = self._refused_telemetry_bytes = 0
        return moved

    # -- figures -----------------------------------------------------------------------------

    @property
    def backlog(self) -> int:
        """Entries waiting for PUBACK, as the heartbeat's ``outbox`` reports it."""
        return self._count

    @property
    def refused(self) -> int:
        """Entries the broker refused, kept in the refused table."""
        return self._refused

    @property
    def telemetry_bytes(self) -> int:
        """Payload bytes of the telemetry waiting, which the budget limits."""
        return self._telemetry_bytes

    async def count(self) -> int:
        """Entries waiting, counted in the database (for checks; ``backlog`` is cheaper)."""
        return await self._call(
            lambda: self._conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        )

    async def last_seq(self) -> int:
        """The last seq handed out (0 before the first)."""
        return await self._call(
            lambda: self._conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[
                0
            ]
        )

    async def pending_ids(self, kind: Kind) -> list[int]:
        """Ids of the entries of ``kind`` still waiting for PUBACK."""
        return await self._call(
            lambda: [
                r[0]
                for r in self._conn.execute(
                    "SELECT id FROM outbox WHERE kind = ? ORDER BY id", (Kind(kind).value,)
                )
            ]
        )
