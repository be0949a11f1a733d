"""Edge agents and hub workers as real child processes, for tests that kill them."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, poll: float = 0.1) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_toml(path: Path, doc: dict[str, Any]) -> Path:
    """Write a flat edge config (tables and arrays of tables one level deep) as TOML."""
    lines: list[str] = []
    tables = {k: v for k, v in doc.items() if isinstance(v, dict)}
    arrays = {k: v for k, v in doc.items() if isinstance(v, list)}
    for key, value in doc.items():
        if key not in tables and key not in arrays:
            lines.append(f"{key} = {_toml_value(value)}")
    for name, table in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    for name, items in arrays.items():
        for item in items:
            lines.append(f"[[{name}]]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in item.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert tomllib.loads(path.read_text(encoding="utf-8")) == doc
    return path


class Child:
    """One child process with its output in a log file; start, SIGKILL, SIGTERM, restart."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None):
        self.name, self.argv = name, argv
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Child:
        """Start (again) with the same arguments."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as in a power cut."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def terminate(self, timeout: float = 20) -> int:
        """SIGTERM and wait for a clean exit; return the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        """Everything the process printed, for failure messages."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def edge_process(config: Path, log_dir: Path, name: str = "edge") -> Child:
    """``python -m edge_agent CONFIG``."""
    return Child(name, [sys.executable, "-m", "edge_agent", str(config)], log_dir)


def hub_ingest_process(env: dict[str, str], log_dir: Path, name: str = "hub") -> Child:
    """``python -m hub.ingest.runner`` with ``SS_*`` settings."""
    return Child(name, [sys.executable, "-m", "hub.ingest.runner"], log_dir, env)


def outbox_state(path: Path) -> tuple[int, int]:
    """(messages waiting, last seq allocated) of an edge's outbox, read without locking it."""
    if not path.exists():
        return 0, 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        waiting = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        seq = db.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0]
    return int(waiting), int(seq)
