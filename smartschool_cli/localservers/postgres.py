"""A private PostgreSQL cluster on a free loopback port, trust auth, fsync on."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg import sql

from smartschool_cli.localservers.base import ServerError, ServerProcess

OS_USER = "postgres"
SUPERUSER = "postgres"
# sun_path is 108 bytes; leave room for "/.s.PGSQL.65535".
MAX_SOCKET_DIR = 90


def postgres_bindir() -> Path | None:
    """The directory holding matching ``postgres`` and ``initdb``, newest version first."""
    candidates: list[Path] = []

    def version(path: Path) -> int:
        match = re.search(r"/(\d+)/bin$", str(path))
        return int(match.group(1)) if match else 0

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    on_path = shutil.which("postgres")
    if on_path:
        # /usr/local/bin/postgres may be a symlink into a versioned bin dir.
        candidates += [Path(on_path).resolve().parent, Path(on_path).parent]
    for directory in candidates:
        if (directory / "postgres").is_file() and (directory / "initdb").is_file():
            return directory
    return None


def _reachable_by(path: Path, uid: int, gids: set[int]) -> bool:
    """Whether the user may traverse every directory from / down to ``path``."""
    for directory in [*reversed(path.parents), path]:
        try:
            st = directory.stat()
        except OSError:
            return False
        if uid == st.st_uid:
            bit = stat.S_IXUSR
        elif st.st_gid in gids:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


class Postgres(ServerProcess):
    """``postgres`` with its own cluster; run as the ``postgres`` OS user when we are root."""

    name = "postgres"
    ready_timeout = 60.0

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        super().__init__(data_dir, port)
        self.as_root = os.geteuid() == 0
        self._external_dir: Path | None = None
        self.cluster_dir = self._locate_cluster()

    @property
    def socket_dir(self) -> str:
        """Where the unix socket goes: the cluster dir, or nowhere when its path is too long."""
        path = str(self.cluster_dir)
        return path if len(path) <= MAX_SOCKET_DIR else ""

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL ``postgresql+psycopg://postgres@127.0.0.1:PORT/dbname``."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def dsn(self, dbname: str = "postgres") -> str:
        """libpq/psycopg connection string for ``dbname``."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str) -> None:
        """Create an empty database owned by the superuser."""
        with psycopg.connect(self.dsn(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting its clients first."""
        with psycopg.connect(self.dsn(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def _pg_user(self) -> tuple[int, set[int]]:
        try:
            entry = pwd.getpwnam(OS_USER)
        except KeyError as exc:
            raise ServerError(
                f"running as root needs the '{OS_USER}' OS user (apt-get install postgresql)"
            ) from exc
        return entry.pw_uid, set(os.getgrouplist(OS_USER, entry.pw_gid))

    def _locate_cluster(self) -> Path:
        """The cluster dir: ``data_dir/pgdata``, or a link to /tmp when the OS user can't reach it."""
        link = self.data_dir / "pgdata"
        if not self.as_root or (link.is_dir() and not link.is_symlink()):
            return link
        if link.is_symlink():
            if link.resolve().is_dir():
                return link.resolve()
            link.unlink()
        uid, gids = self._pg_user()
        if _reachable_by(self.data_dir, uid, gids):
            return link
        # pytest's tmp dirs are private to root; put the cluster where the OS user can go.
        base = tempfile.gettempdir()
        if not _reachable_by(Path(base), uid, gids):
            base = "/tmp"
        target = Path(tempfile.mkdtemp(prefix="smartschool-pg-", dir=base))
        link.symlink_to(target)
        self._external_dir = target
        return target

    def _as_os_user(self, argv: Sequence[str]) -> list[str]:
        if not self.as_root:
            return list(argv)
        # setpriv execs in place, so signals reach the postmaster itself.
        return ["setpriv", f"--reuid={OS_USER}", f"--regid={OS_USER}", "--init-groups", "--", *argv]

    def _binary(self, name: str) -> str:
        bindir = postgres_bindir()
        if bindir is None:
            raise ServerError("PostgreSQL is not installed (apt-get install postgresql)")
        return str(bindir / name)

    def environment(self) -> dict[str, str] | None:
        # PGDATA, PGPORT and friends from the caller's shell must not steer our cluster.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C.UTF-8"
        return env

    def prepare(self) -> None:
        """Create the cluster with initdb on first start."""
        if (self.cluster_dir / "PG_VERSION").exists():
            return
        self.cluster_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.as_root:
            uid, _ = self._pg_user()
            os.chown(self.cluster_dir, uid, pwd.getpwnam(OS_USER).pw_gid)
        argv = [
            self._binary("initdb"),
            "-D", str(self.cluster_dir),
            "-U", SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            # initdb's own fsync of the template files only slows tests; the server keeps fsync on.
            "--no-sync",
            "--no-instructions",
        ]  # fmt: skip
        result = subprocess.run(
            self._as_os_user(argv),
            capture_output=True,
            text=True,
            env=self.environment(),
            cwd="/",
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(
                f"initdb failed ({result.returncode}): {result.stdout}{result.stderr}"
            )

    def command(self) -> Sequence[str]:
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": self.socket_dir,
            "fsync": "on",
            "synchronous_commit": "on",
            "full_page_writes": "on",
            "max_connections": "200",
            "logging_collector": "off",
            "log_min_messages": "warning",
            "log_checkpoints": "off",
            "TimeZone": "UTC",
        }
        argv = [self._binary("postgres"), "-D", str(self.cluster_dir)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        return self._as_os_user(argv)

    def is_ready(self) -> bool:
        """Whether a query succeeds (the port opens before recovery has finished)."""
        try:
            with psycopg.connect(self.dsn(), connect_timeout=1) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT): SIGTERM would wait for every client to disconnect."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def remove(self) -> None:
        """Stop and delete the cluster when it lives outside ``data_dir``."""
        self.stop()
        if self._external_dir is not None:
            shutil.rmtree(self._external_dir, ignore_errors=True)
            (self.data_dir / "pgdata").unlink(missing_ok=True)
            self._external_dir = None
