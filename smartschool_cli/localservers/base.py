"""A server process of ours: free port, private data dir, start/stop/kill, wait until ready."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self


class ServerError(RuntimeError):
    """A server that is not installed, or did not come up in time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def find_binary(name: str, *extra_dirs: str) -> str | None:
    """Path of an executable on PATH or in ``extra_dirs``, or None."""
    found = shutil.which(name)
    if found:
        return found
    for directory in extra_dirs:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


class ServerProcess:
    """One server process with a log file; subclasses say how to configure and start it."""

    name = "server"
    host = "127.0.0.1"
    ready_timeout = 30.0

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / f"{self.name}.log"

    def command(self) -> Sequence[str]:
        """The argv that runs the server in the foreground."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Write config files; called before every start."""

    def is_ready(self) -> bool:
        """Whether the server answers; by default, whether its port accepts connections."""
        return port_open(self.host, self.port)

    def start(self) -> Self:
        """Start the server and wait until it is ready."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        self.prepare()
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(
            list(self.command()),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=self.environment(),
        )
        log.close()
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"{self.name} exited with {self.proc.returncode}: {self.tail_log()}")
            if self.is_ready():
                return self
            time.sleep(0.05)
        self.kill()
        raise ServerError(f"{self.name} not ready on port {self.port} in {self.ready_timeout}s: {self.tail_log()}")

    def environment(self) -> dict[str, str] | None:
        """Environment of the child; None inherits ours."""
        return None

    def stop(self, timeout: float = 15.0) -> None:
        """Stop gracefully (SIGTERM), killing if it does not exit in ``timeout``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """Stop at once with SIGKILL."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.kill()
        self.proc.wait(10)

    def restart(self) -> Self:
        """Stop gracefully and start again on the same port and data."""
        self.stop()
        return self.start()

    def tail_log(self, lines: int = 20) -> str:
        """The last lines of the server's log, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
