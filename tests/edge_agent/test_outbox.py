"""The durable outbox on a real SQLite file: order, seq across restarts and crashes, shedding."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.outbox import Kind, Outbox


def _seq_payload(seq: int) -> bytes:
    return json.dumps({"seq": seq}).encode()


async def test_drains_in_insertion_order_and_ack_removes(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "o.sqlite") as box:
        for i in range(10):
            kind = Kind.EVENT if i % 3 == 0 else Kind.TELEMETRY
            await box.put(f"t/{i}", f"m{i}".encode(), 1, kind)
        entries = await box.peek(0, 100)
        assert [e.payload for e in entries] == [f"m{i}".encode() for i in range(10)]
        assert [e.topic for e in entries] == [f"t/{i}" for i in range(10)]
        assert box.backlog == 10
        page = await box.peek(entries[3].id, 2)
        assert [e.payload for e in page] == [b"m4", b"m5"]
        await box.ack([e.id for e in entries[:4]])
        assert box.backlog == 6 == await box.count()
        assert [e.payload for e in await box.peek()] == [f"m{i}".encode() for i in range(4, 10)]


async def test_seq_is_allocated_with_the_insert_and_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    async with Outbox(path) as box:
        first = [await box.put("t", _seq_payload, 1, Kind.TELEMETRY) for _ in range(5)]
        plain = await box.put("r", b"{}", 1, Kind.REQUEST)
        assert [e.seq for e in first] == [1, 2, 3, 4, 5]
        assert plain.seq is None  # requests carry no seq, so they leave no gap
        assert json.loads(first[2].payload) == {"seq": 3}
        await box.ack([e.id for e in first])

    async with Outbox(path) as box:
        assert box.backlog == 1
        again = await box.put("t", _seq_payload, 1, Kind.EVENT)
        assert again.seq == 6
        assert await box.last_seq() == 6
        assert again.id > plain.id  # ids are never reused either: order holds across restarts


async def test_failed_payload_build_consumes_no_seq(tmp_path: Path) -> None:
    def broken(seq: int) -> bytes:
        raise ValueError("bad reading")

    async with Outbox(tmp_path / "o.sqlite") as box:
        await box.put("t", _seq_payload, 1, Kind.TELEMETRY)
        with pytest.raises(ValueError):
            await box.put("t", broken, 1, Kind.TELEMETRY)
        after = await box.put("t", _seq_payload, 1, Kind.TELEMETRY)
        assert after.seq == 2
        assert box.backlog == 2 == await box.count()


async def test_telemetry_is_shed_oldest_first_events_and_requests_never(tmp_path: Path) -> None:
    # Each telemetry payload is 100 bytes; the budget holds 5 of them.
    async with Outbox(tmp_path / "o.sqlite", telemetry_budget_bytes=500) as box:
        kept = []
        for i in range(20):
            await box.put("tel", b"%03d" % i + b"x" * 97, 1, Kind.TELEMETRY)
            if i % 4 == 0:
                kept.append(await box.put("ev", b"e" * 1000, 1, Kind.EVENT))
                kept.append(await box.put("req", b"r" * 1000, 1, Kind.REQUEST))
        entries = await box.peek(0, 1000)
        telemetry = [e.payload[:3] for e in entries if e.kind is Kind.TELEMETRY]
        assert telemetry == [b"015", b"016", b"017", b"018", b"019"]
        assert [e.id for e in entries if e.kind is not Kind.TELEMETRY] == [e.id for e in kept]
        assert box.shed_total == 15
        assert box.telemetry_bytes == 500
        assert box.backlog == 5 + len(kept) == await box.count()


async def test_row_budget_sheds_telemetry_too(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "o.sqlite", telemetry_max_rows=3) as box:
        for i in range(6):
            await box.put("tel", str(i).encode(), 1, Kind.TELEMETRY)
        await box.put("ev", b"e", 1, Kind.EVENT)
        assert [e.payload for e in await box.peek()] == [b"3", b"4", b"5", b"e"]


async def test_budget_counters_are_rebuilt_on_open(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    async with Outbox(path, telemetry_budget_bytes=300) as box:
        for i in range(3):
            await box.put("tel", bytes([48 + i]) * 100, 1, Kind.TELEMETRY)
    async with Outbox(path, telemetry_budget_bytes=300) as box:
        assert box.telemetry_bytes == 300
        await box.put("tel", b"3" * 100, 1, Kind.TELEMETRY)
        assert [e.payload[:1] for e in await box.peek()] == [b"1", b"2", b"3"]


async def test_refused_entries_are_kept_counted_requeued_and_their_telemetry_bounded(
        tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    async with Outbox(path, telemetry_budget_bytes=300) as box:
        tel = [await box.put("tel", bytes([48 + i]) * 100, 1, Kind.TELEMETRY) for i in range(3)]
        event = await box.put("ev", b"e" * 1000, 1, Kind.EVENT)
        await box.refuse([(tel[0].id, "Not authorized"), (event.id, "Not authorized"),
                          (999, "Not authorized")])  # an unknown id (shed meanwhile): skipped
        assert (box.backlog, box.refused, box.telemetry_bytes) == (2, 2, 200)
        # Refused telemetry has a budget of the same size: the oldest goes first.
        more = [await box.put("tel", b"m" * 100, 1, Kind.TELEMETRY) for _ in range(3)]
        await box.refuse([(e.id, "Quota exceeded") for e in [*tel[1:], *more]])
        assert box.refused == 4  # the event and the three newest readings
        assert box.shed_total >= 2
    async with Outbox(path, telemetry_budget_bytes=300) as box:
        assert (box.backlog, box.refused) == (0, 4)  # counted again on open
        assert await box.requeue_refused() == 4
        assert box.refused == 0 and box.backlog == 4 == await box.count()
        requeued = await box.peek()
        assert [e.payload[:1] for e in requeued] == [b"e", b"m", b"m", b"m"]
        assert [e.id for e in requeued] == sorted(e.id for e in requeued)
        assert box.telemetry_bytes == 300


async def test_database_is_wal_with_full_sync(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    async with Outbox(path) as box:
        await box.put("t", b"x", 1, Kind.EVENT)
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


_WRITER = """
import asyncio, sys
from edge_agent.outbox import Kind, Outbox

async def main():
    async with Outbox(sys.argv[1]) as box:
        n = 0
        while True:
            await box.put("t", lambda seq: str(seq).encode(), 1, Kind.EVENT)
            n += 1
            if n == 20:
                print("ready", flush=True)

asyncio.run(main())
"""


def test_sigkill_mid_writes_neither_reuses_nor_skips_a_seq(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        # The writer keeps committing after "ready": the kill lands mid-stream.
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()

    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT seq, payload FROM outbox ORDER BY id").fetchall()
        counter = db.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0]
    finally:
        db.close()
    seqs = [r[0] for r in rows]
    assert len(seqs) >= 20
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, no reuse
    assert all(int(r[1]) == r[0] for r in rows)  # each payload carries its own seq
    assert counter == len(seqs)  # the counter and the rows committed together
