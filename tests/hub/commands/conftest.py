"""Fixtures of the command tests: the real hub app on SQLite or PostgreSQL, real edge agent
processes, tokens, and waits on a command's record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hub.app import create_app
from hub.auth import Role
from hub.settings import load_settings
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.e2e.procs import ROOT, Child, edge_process
from tests.hub.conftest import serve, wait_until

SCHOOL, EDGE = "thpt-nguyen-hien", "p-11c3"
OTHER_SCHOOL = "thpt-le-quy-don"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test taking it runs on SQLite and on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@dataclass
class HubUnderTest:
    """The served hub app and an HTTP client to it."""

    client: httpx.Client
    app: FastAPI

    def bearer(self, role: Role, subject: str, school: str | None = SCHOOL) -> dict[str, str]:
        """The Authorization header of a token for ``subject`` in ``role``."""
        token = self.app.state.tokens.issue(subject, role, school=school)
        return {"Authorization": f"Bearer {token}"}

    def send(self, headers: dict[str, str], cmd: str, args: dict[str, Any] | None = None,
             timeout_s: float = 10, edge: str = EDGE, school: str = SCHOOL) -> httpx.Response:
        """POST a command."""
        body: dict[str, Any] = {"cmd": cmd, "timeout_s": timeout_s}
        if args is not None:
            body["args"] = args
        return self.client.post(f"/api/v1/edges/{school}/{edge}/commands", json=body,
                                headers=headers)

    def record(self, headers: dict[str, str], command_id: str) -> dict[str, Any]:
        """GET a command's record (200 expected)."""
        response = self.client.get(f"/api/v1/commands/{command_id}", headers=headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_state(self, headers: dict[str, str], command_id: str,
                   done: Callable[[str], bool], timeout: float = 20,
                   what: str = "") -> dict[str, Any]:
        """Poll the record until ``done(state)``; the record."""
        seen: dict[str, Any] = {}

        def check() -> bool:
            seen.update(self.record(headers, command_id))
            return done(seen["state"])

        wait_until(check, timeout, what or f"command {command_id} to settle")
        return seen

    def acks(self, outcome: str) -> float:
        """How many command acks had ``outcome``."""
        value = self.app.state.metrics.registry.get_sample_value(
            "hub_command_acks_total", {"outcome": outcome})
        return float(value or 0)

    def edge_state(self) -> str | None:
        """The registry's state of the test edge."""
        return next((e["state"] for e in self.registry() if e["edge"] == EDGE), None)

    def registry(self) -> list[dict[str, Any]]:
        """The registry's edges of the test school, as its technician sees them."""
        token = self.app.state.tokens.issue("tech", Role.TECHNICIAN, school=SCHOOL)
        return list(self.client.get("/api/v1/devices", params={"school": SCHOOL},
                                    headers={"Authorization": f"Bearer {token}"}).json()["edges"])


@pytest.fixture
def hub(mosquitto: Mosquitto, db_url: str) -> Iterator[HubUnderTest]:
    """The full hub app (ingest, command service, API) under uvicorn."""
    app = create_app(load_settings(mqtt_url=mosquitto.url, db_url=db_url,
                                   mqtt_client_id="hub-commands", jwt_secret="c" * 40))
    with serve(app) as client:
        wait_until(lambda: client.get("/healthz").status_code == 200, what="hub healthy")
        yield HubUnderTest(client, app)


class EdgeBox:
    """A real edge agent process (``python -m edge_agent``) with no devices."""

    def __init__(self, mosquitto: Mosquitto, tmp_path: Path,
                 reboot_command: list[str] | None = None) -> None:
        lines = [f'school = "{SCHOOL}"', f'edge = "{EDGE}"', "heartbeat_s = 3600"]
        if reboot_command is not None:
            lines.append(f"reboot_command = {json.dumps(reboot_command)}")
        lines += ["[mqtt]", f'url = "{mosquitto.url}"', "reconnect_min_s = 0.1",
                  "reconnect_max_s = 0.5", "[outbox]", f'path = "{tmp_path / "outbox.sqlite"}"']
        config = tmp_path / "edge.toml"
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.child: Child = edge_process(config, tmp_path, name="edge")

    def start(self, hub: HubUnderTest) -> EdgeBox:
        """Start and wait until it is subscribed to its commands and the hub has its birth."""
        connected = self.child.log().count("connected to")
        self.child.start()
        wait_until(lambda: self.child.log().count("connected to") > connected or
                   not self.child.alive(), 30, "the edge connected")
        assert self.child.alive(), self.child.log()[-3000:]
        wait_until(lambda: hub.edge_state() == "online", 30, "the edge online at the hub")
        return self

    def exit_status(self, timeout: float) -> int:
        """Wait for the process to end by itself; its exit status."""
        assert self.child.proc is not None
        return self.child.proc.wait(timeout)

    def stop(self) -> int:
        """SIGTERM and wait for a clean exit."""
        return self.child.terminate()

    def close(self) -> None:
        """Stop it if it still runs."""
        if self.child.alive():
            self.child.terminate()


@pytest.fixture
def edge_box(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[Callable[..., EdgeBox]]:
    """Make edge boxes (not started); every one is stopped at the end."""
    made: list[EdgeBox] = []

    def make(reboot_command: list[str] | None = None) -> EdgeBox:
        box = EdgeBox(mosquitto, tmp_path, reboot_command)
        made.append(box)
        return box

    yield make
    for box in made:
        box.close()


def cli(*args: str) -> tuple[int, str]:
    """Run ``smartschool`` as a user does: (exit status, what it printed)."""
    result = subprocess.run([sys.executable, "-m", "smartschool_cli.main", *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "COLUMNS": "160"})
    return result.returncode, result.stdout + result.stderr
