"""A SQLite file used from one dedicated thread, for the edge's outbox and local state.

A commit with ``synchronous=FULL`` is an fsync: milliseconds to tens of milliseconds on a Pi's SD
card, which on the event loop would stall the MQTT keepalive and the device reads. One thread
(rather than ``asyncio.to_thread``'s pool) keeps the connection on a single thread and runs
calls in the order they were made, so no lock is needed.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

T = TypeVar("T")


class ThreadedSqlite:
    """``async with`` opens the file on its thread; ``await self._call(fn, ...)`` runs there."""

    #: Name of the thread, and of the store in error messages.
    store_name = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def __aenter__(self) -> Self:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.store_name)
        try:
            await self._call(self._open)
        except BaseException:
            self._executor.shutdown(wait=True)
            self._executor = None
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._executor is None:
            return
        try:
            await self._call(self._close)
        finally:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        if self._executor is None:
            raise RuntimeError(f"{self.store_name} is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args))

    def _connect(self, schema: str) -> sqlite3.Connection:
        """Open the file (WAL, fsync on commit) and apply ``schema``; on the store's thread."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are opened explicitly (BEGIN IMMEDIATE).
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(schema)
        self._db = db
        return db

    def _open(self) -> None:
        """Open the store (runs on its thread)."""
        self._connect("")

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
