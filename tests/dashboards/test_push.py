"""``smartschool grafana push`` through the real grafana-client against a real HTTP server.

No Grafana server can run here (no package, no network), so ``grafana_stub.FakeGrafana`` (a
``http.server`` in a thread) answers the endpoints grafana-client calls the way Grafana does and
records every call; the command runs as a user runs it, in its own process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboards.build import JSON_DIR
from smartschool_cli.grafana import DATASOURCE_UID, FOLDER_UID
from smartschool_cli.localservers.base import free_port
from tests.dashboards.grafana_stub import FakeGrafana

ROOT = Path(__file__).resolve().parents[2]
ADMIN, VIEWER = "glsa_admin_token_for_tests", "glsa_viewer_token_for_tests"


def push(grafana_url: str, token: str | None, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SS_", "GRAFANA_"))}
    env.update({"COLUMNS": "200", "SS_GRAFANA_URL": grafana_url,
                "SS_INFLUX_URL": "http://influxdb:8086", "SS_INFLUX_DB": "smartschool"})
    if token is not None:
        env["SS_GRAFANA_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "smartschool_cli.main", "grafana", "push", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    with FakeGrafana(ADMIN, VIEWER) as server:
        yield server


def _committed() -> dict[str, dict]:
    return {json.loads(p.read_text(encoding="utf-8"))["uid"]: json.loads(p.read_text("utf-8"))
            for p in sorted(JSON_DIR.glob("*.json"))}


def test_push_creates_folder_and_datasource_then_overwrites_dashboards(
    grafana: FakeGrafana,
) -> None:
    first = push(grafana.url, ADMIN)
    assert first.returncode == 0, first.stderr
    calls = [(c.method, c.path) for c in grafana.state.calls]
    committed = _committed()
    assert calls == [
        ("GET", f"/api/folders/{FOLDER_UID}"), ("POST", "/api/folders"),
        ("GET", f"/api/datasources/uid/{DATASOURCE_UID}"), ("POST", "/api/datasources"),
        *[("POST", "/api/dashboards/db")] * len(committed),
    ]
    assert all(c.authorization == f"Bearer {ADMIN}" for c in grafana.state.calls)
    assert grafana.state.calls[1].body == {"title": "Smartschool", "uid": FOLDER_UID}
    source = grafana.state.datasources[DATASOURCE_UID]
    assert (source["type"], source["url"], source["jsonData"]["dbName"],
            source["jsonData"]["version"]) == ("influxdb", "http://influxdb:8086",
                                               "smartschool", "InfluxQL")
    for uid, board in committed.items():
        stored = grafana.state.dashboards[uid]
        assert stored["version"] == 1
        assert stored["body"]["overwrite"] is True and stored["body"]["folderUid"] == FOLDER_UID
        assert stored["body"]["dashboard"] == {**board, "id": None}
    assert "Smartschool" in first.stderr and "smartschool-classroom-air" in first.stderr

    # Again: folder and datasource exist and stay; dashboards replace the older versions.
    grafana.state.calls.clear()
    second = push(grafana.url, ADMIN)
    assert second.returncode == 0, second.stderr
    methods = [(c.method, c.path) for c in grafana.state.calls]
    assert ("POST", "/api/folders") not in methods and ("POST", "/api/datasources") not in methods
    assert methods.count(("POST", "/api/dashboards/db")) == len(committed)
    assert {d["version"] for d in grafana.state.dashboards.values()} == {2}


def test_wrong_token_is_refused_in_both_languages(grafana: FakeGrafana) -> None:
    result = push(grafana.url, "glsa_wrong")
    assert result.returncode == 77
    assert "401" in result.stderr and "từ chối token" in result.stderr
    assert "refused the token" in result.stderr and "Traceback" not in result.stderr
    assert not [c for c in grafana.state.calls if c.method != "GET"]
    assert not grafana.state.dashboards


def test_token_without_permission_is_named(grafana: FakeGrafana) -> None:
    result = push(grafana.url, VIEWER)
    assert result.returncode == 77
    assert "403" in result.stderr and "lacks permission" in result.stderr
    assert "không đủ quyền" in result.stderr and "Traceback" not in result.stderr


def test_unreachable_grafana_and_missing_settings() -> None:
    port = free_port()  # nothing listens there
    down = push(f"http://127.0.0.1:{port}", ADMIN)
    assert down.returncode == 69
    assert "cannot reach Grafana" in down.stderr and "không kết nối được" in down.stderr.lower()
    missing = push("", None)
    assert missing.returncode == 2 and "SS_GRAFANA_TOKEN" in missing.stderr
