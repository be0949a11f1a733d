"""An edge box that dies without a word is shown offline by the registry and the live wall,
and online again when it comes back (its Last Will is told apart from stale ones by session)."""

from __future__ import annotations

from pathlib import Path

import httpx

from firmware_sim import make_simulator
from hub.auth import Role, TokenSigner
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.e2e.procs import edge_process, wait_until, write_toml
from tests.e2e.school import SECRET, WALL_HEADERS, Hub

SCHOOL, EDGE = "thcs-tan-binh", "p-6a1"
TECHNICIAN = TokenSigner(SECRET).issue("tech", Role.TECHNICIAN, school=SCHOOL)


def states(hub: Hub) -> tuple[str | None, str | None]:
    """(registry state, live-wall state) of the edge."""
    try:
        registry = httpx.get(f"{hub.url}/api/v1/devices", timeout=5,
                             headers={"Authorization": f"Bearer {TECHNICIAN}"}).json()["edges"]
        live = httpx.get(f"{hub.url}/api/v1/live", timeout=5, headers=WALL_HEADERS).json()
    except httpx.HTTPError:
        return None, None
    row = next((e for e in registry if e["edge"] == EDGE), None)
    tile = next((e for e in live["edges"] if e["edge"] == EDGE), None)
    return (row["state"] if row else None), (tile["state"] if tile else None)


def test_a_killed_edge_turns_offline_and_back_online(mosquitto: Mosquitto, sqlite_url: str,
                                                     tmp_path: Path) -> None:
    hub = Hub(mosquitto.url, sqlite_url, tmp_path).start_ready()
    config = write_toml(tmp_path / "edge.toml", {
        "school": SCHOOL, "edge": EDGE, "room": "6A1", "heartbeat_s": 30,
        "mqtt": {"url": mosquitto.url, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5},
        "outbox": {"path": str(tmp_path / "outbox.sqlite")},
        "devices": [{"id": "co2-1", "driver": "mhz19", "port": str(tmp_path / "ttyCO2"),
                     "interval_s": 1}],
    })
    edge = edge_process(config, tmp_path)
    try:
        with make_simulator("mhz19", tmp_path / "ttyCO2", co2_ppm=700, temp_c=27):
            edge.start()
            wait_until(lambda: states(hub) == ("online", "online"), 30, "the edge online")
            edge.kill()
            wait_until(lambda: states(hub) == ("offline", "offline"), 30,
                       "the edge offline after SIGKILL")
            edge.start()
            wait_until(lambda: states(hub) == ("online", "online"), 30, "the edge back online")
    finally:
        if edge.alive():
            edge.terminate()
        assert hub.terminate() == 0, hub.log()[-3000:]
