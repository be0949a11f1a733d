"""The live API over a real uvicorn: JSON snapshot, SSE snapshot/changes, resume, hostile input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from hub.auth import Role, TokenSigner
from hub.live import LiveState
from hub.web.routes import live_streams
from smartschool_cli.localservers.base import free_port, port_open
from tests.hub.web.conftest import TEST_SECRET

if TYPE_CHECKING:
    from .conftest import WallServer

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TIMEOUT = httpx.Timeout(5.0)


@dataclass
class Event:
    """One SSE message as a browser would see it."""

    event: str
    id: str | None
    data: dict[str, Any] | None
    comment: bool = False


class SseReader:
    """Reads SSE messages off an httpx streaming response (each read bounded by its timeout)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines: Iterator[str] = response.iter_lines()
        self.retry: int | None = None

    def next(self) -> Event:
        """The next event or comment; a ``retry:`` field is kept in ``self.retry``."""
        fields: dict[str, str] = {}
        comment = False
        for line in self.lines:
            if line == "":
                if fields or comment:
                    data = json.loads(fields["data"]) if "data" in fields else None
                    return Event(fields.get("event", "message"), fields.get("id"), data, comment)
                continue
            if line.startswith(":"):
                comment = True
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "retry":
                self.retry = int(value)
            else:
                fields[name] = value
        raise EOFError("stream ended")

    def next_event(self) -> Event:
        """The next event that is not a keep-alive comment."""
        while True:
            event = self.next()
            if not event.comment:
                return event


def reading(live: LiveState, edge: str, device: str, co2: float, minute: int) -> None:
    """A CO2 reading at 08:{minute} of a room of Lê Hồng Phong."""
    live.update_reading(
        "thpt-le-hong-phong",
        edge,
        device,
        "mhz19",
        f"Phòng {edge.upper()}",
        T0 + timedelta(minutes=minute),
        {"co2_ppm": co2},
    )


def devices_of(event: Event) -> set[str]:
    assert event.data is not None
    return {d["device"] for d in event.data["devices"]}


def test_json_snapshot_has_every_device_and_edge(live: LiveState, wall_server: WallServer) -> None:
    reading(live, "p10a1", "env1", 700, 0)
    live.update_edge("thpt-le-hong-phong", "p10a1", state="online", ts=T0)
    body = httpx.get(f"{wall_server.url}/api/v1/live", timeout=TIMEOUT).json()
    assert body["version"] == 2
    assert body["devices"][0]["values"] == {"co2_ppm": 700}
    assert body["edges"][0]["state"] == "online"


def test_stream_sends_snapshot_then_only_changes(live: LiveState, wall_server: WallServer) -> None:
    reading(live, "p10a1", "env1", 700, 0)
    reading(live, "p10a2", "env1", 900, 0)
    with httpx.stream("GET", f"{wall_server.url}/api/v1/live/stream", timeout=TIMEOUT) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        sse = SseReader(resp)
        first = sse.next_event()
        assert sse.retry is not None and sse.retry > 0
        assert first.event == "snapshot"
        assert first.id is not None and first.id.endswith("-2")
        assert devices_of(first) == {"env1"} and len(first.data["devices"]) == 2  # type: ignore[index]
        pushed_at = time.monotonic()
        reading(live, "p10a2", "env1", 1600, 1)
        change = sse.next_event()
        assert time.monotonic() - pushed_at < 2.0  # pushed, not found by a slow poll
        assert change.event == "change" and change.id is not None and change.id.endswith("-3")
        assert change.data is not None
        assert [(d["edge"], d["values"]) for d in change.data["devices"]] == [
            ("p10a2", {"co2_ppm": 1600})
        ]
        assert change.data["edges"] == []


def test_stream_resumes_from_last_event_id(live: LiveState, wall_server: WallServer) -> None:
    url = f"{wall_server.url}/api/v1/live/stream"
    reading(live, "p10a1", "env1", 700, 0)
    reading(live, "p10a2", "env1", 900, 0)
    with httpx.stream("GET", url, timeout=TIMEOUT) as resp:
        seen = SseReader(resp).next_event()
    assert seen.event == "snapshot" and seen.id is not None
    # While the browser is away: one room changes, an edge goes offline.
    reading(live, "p10a2", "env1", 1250, 1)
    live.update_edge("thpt-le-hong-phong", "p10a1", state="offline", ts=T0)
    with httpx.stream("GET", url, headers={"Last-Event-ID": seen.id}, timeout=TIMEOUT) as resp:
        missed = SseReader(resp).next_event()
    assert missed.event == "change"
    assert missed.data is not None
    assert [(d["edge"], d["values"]) for d in missed.data["devices"]] == [
        ("p10a2", {"co2_ppm": 1250})
    ]
    assert [(e["edge"], e["state"]) for e in missed.data["edges"]] == [("p10a1", "offline")]
    assert missed.id == seen.id.rsplit("-", 1)[0] + "-4"


@pytest.mark.parametrize(
    "last_event_id",
    [
        "garbage",
        "../../etc/passwd",
        "-1",
        "0",
        "deadbeef-1",  # another hub's (or a restarted hub's) epoch
        "x" * 6000,
        "ffffffff-99999999999999999999999",
        b"\xff\xfe".decode("latin-1"),
    ],
)
def test_hostile_last_event_id_gets_a_full_snapshot(
    live: LiveState, wall_server: WallServer, last_event_id: str
) -> None:
    reading(live, "p10a1", "env1", 700, 0)
    headers = {b"Last-Event-ID": last_event_id.encode("latin-1")}
    url = f"{wall_server.url}/api/v1/live/stream"
    with httpx.stream("GET", url, headers=headers, timeout=TIMEOUT) as resp:
        assert resp.status_code == 200
        first = SseReader(resp).next_event()
    assert first.event == "snapshot" and devices_of(first) == {"env1"}


def test_version_from_the_future_gets_a_full_snapshot(
    live: LiveState, wall_server: WallServer
) -> None:
    reading(live, "p10a1", "env1", 700, 0)
    epoch = live_streams(wall_server.app).epoch
    headers = {"Last-Event-ID": f"{epoch}-999"}
    with httpx.stream(
        "GET", f"{wall_server.url}/api/v1/live/stream", headers=headers, timeout=TIMEOUT
    ) as resp:
        first = SseReader(resp).next_event()
    assert first.event == "snapshot" and devices_of(first) == {"env1"}


def test_quiet_stream_sends_keepalives(live: LiveState, wall_server: WallServer) -> None:
    live_streams(wall_server.app).keepalive_s = 0.3
    with httpx.stream("GET", f"{wall_server.url}/api/v1/live/stream", timeout=TIMEOUT) as resp:
        sse = SseReader(resp)
        assert sse.next().event == "snapshot"
        assert sse.next().comment


def test_stream_ends_when_the_client_goes(live: LiveState, wall_server: WallServer) -> None:
    streams = live_streams(wall_server.app)
    with httpx.stream("GET", f"{wall_server.url}/api/v1/live/stream", timeout=TIMEOUT) as resp:
        sse = SseReader(resp)  # kept: dropping the reader would close the response early
        assert sse.next_event().event == "snapshot"
        assert streams.open == 1
    deadline = time.monotonic() + 5
    while streams.open and time.monotonic() < deadline:
        time.sleep(0.05)
    assert streams.open == 0


def test_server_stops_promptly_with_a_wall_connected(
    live: LiveState, wall_server: WallServer
) -> None:
    with httpx.stream("GET", f"{wall_server.url}/api/v1/live/stream", timeout=TIMEOUT) as resp:
        sse = SseReader(resp)
        assert sse.next_event().event == "snapshot"
        assert wall_server.stop() < 3.0
        with pytest.raises(EOFError):
            sse.next_event()


def test_too_many_streams_get_503_with_retry_after(
    live: LiveState, wall_server: WallServer
) -> None:
    live_streams(wall_server.app).max_streams = 1
    url = f"{wall_server.url}/api/v1/live/stream"
    with httpx.stream("GET", url, timeout=TIMEOUT) as resp:
        sse = SseReader(resp)  # kept: dropping the reader would close the response early
        assert sse.next_event().event == "snapshot"
        second = httpx.get(url, timeout=TIMEOUT)
        assert second.status_code == 503
        assert second.headers["retry-after"] == "5"


def test_pages_and_static_files(wall_server: WallServer) -> None:
    with httpx.Client(base_url=wall_server.url, timeout=TIMEOUT) as client:
        root = client.get("/")
        assert root.status_code in (302, 307) and root.headers["location"] == "/wall"
        page = client.get("/wall")
        assert page.status_code == 200 and "Trung tâm điều hành" in page.text
        script = client.get("/wall/static/wall.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert "EventSource" in script.text
        assert client.get("/wall/static/wall.css").status_code == 200
        for bad in ("nope.js", "..%2Froutes.py", "%2E%2E%2Fstream.py", "wall.html", "routes.py"):
            assert client.get(f"/wall/static/{bad}").status_code == 404, bad


SERVE = """
import sys
import uvicorn
from fastapi import FastAPI
from hub.auth import TokenSigner
from hub.live import LiveState
from hub.web.routes import router
from hub.web.server import LiveWallServer

app = FastAPI()
app.include_router(router)
app.state.live = LiveState()
app.state.tokens = TokenSigner(sys.argv[2])
config = uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), lifespan="off", ws="none")
LiveWallServer(config, app).run()
"""


def test_sigterm_ends_open_streams_and_the_server(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", SERVE, str(port), TEST_SECRET],
                                stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 15
        while not port_open("127.0.0.1", port):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/api/v1/live/stream"
        wall = TokenSigner(TEST_SECRET).issue("noc-1", Role.WALL)
        with httpx.stream("GET", url, timeout=TIMEOUT,
                          headers={"Authorization": f"Bearer {wall}"}) as resp:
            sse = SseReader(resp)
            assert sse.next_event().event == "snapshot"
            began = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            with pytest.raises(EOFError):
                sse.next_event()  # the server ended the stream rather than leave it hanging
        proc.wait(timeout=5)
        assert time.monotonic() - began < 3.0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert "Traceback" not in output and "Cancel" not in output, output
