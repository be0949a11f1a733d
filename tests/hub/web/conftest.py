"""Fixtures for the live wall: a real uvicorn serving the wall's router over a fed LiveState."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import uvicorn
from fastapi import FastAPI

from hub.auth import Principal, Role, TokenSigner, live_viewer
from hub.live import LiveState
from hub.web.routes import router, stop_streams
from smartschool_cli.localservers.base import free_port

# (school, edge, room, CO2 base in ppm, PM2.5 base in µg/m³): one room per threshold band.
ROOMS = [
    ("thpt-le-hong-phong", "p10a1", "Phòng 10A1", 650, 12),
    ("thpt-le-hong-phong", "thu-vien", "Thư viện", 1150, 31),
    ("thpt-tran-dai-nghia", "lab-hoa", "Phòng Lab Hoá", 1720, 64),
    ("thcs-tan-binh", "can-tin", "Căng tin", 820, 18),
]


class WallServer:
    """A uvicorn server in a thread, serving ``app`` on a free port of 127.0.0.1."""

    def __init__(self, app: FastAPI, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            ws="none",
            http="h11",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="wall-uvicorn", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        """Start serving and wait until the socket listens."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            self.thread.join(0.02)

    def stop(self, timeout: float = 5.0) -> float:
        """End the live streams, stop the server, and return how long that took."""
        began = time.monotonic()
        if not self.thread.is_alive():
            return 0.0
        stop_streams(self.app)
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise RuntimeError("uvicorn did not stop: a stream kept it waiting")
        return time.monotonic() - began


class Feeder:
    """Feeds ``ROOMS`` into a LiveState from a thread, with values that change every step."""

    period_s = 0.3

    def __init__(self, live: LiveState) -> None:
        self.live = live
        self.step = 0
        self._states: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wall-feeder", daemon=True)

    def set_edge_state(self, school: str, edge: str, state: str) -> None:
        """Make an edge report ``state`` from now on."""
        with self._lock:
            self._states[(school, edge)] = state
        self.live.update_edge(school, edge, state=state, ts=datetime.now(UTC))

    def feed_once(self) -> None:
        """One round of readings and heartbeats for every room."""
        self.step += 1
        now = datetime.now(UTC)
        wobble = self.step % 7
        for school, edge, room, co2, pm25 in ROOMS:
            with self._lock:
                state = self._states.get((school, edge), "online")
            self.live.update_edge(school, edge, state=state, ts=now, outbox=0)
            if state != "online":
                continue
            self.live.update_reading(
                school,
                edge,
                "env1",
                "mhz19",
                room,
                now,
                {"co2_ppm": co2 + 9 * wobble, "temp_c": 29.0 + wobble / 10, "rh_pct": 68 + wobble},
            )
            self.live.update_reading(
                school, edge, "pm1", "pm1006", room, now, {"pm25_ugm3": pm25 + wobble % 3}
            )

    def _run(self) -> None:
        while not self._stop.is_set():
            self.feed_once()
            self._stop.wait(self.period_s)  # the feed's pace, not a wait for a condition

    def __enter__(self) -> Feeder:
        self.feed_once()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


#: Signs the tokens of the wall test apps.
TEST_SECRET = "test-secret-of-the-wall-apps-0123456789"


def make_app(live: LiveState, *, signed_in: bool = True) -> FastAPI:
    """The smallest app the hub could be: the wall's router over ``live``.

    ``signed_in``: every caller counts as a wall display, for the tests of what the walls show;
    test_live_auth.py tests the sign-in itself, with ``signed_in=False``.
    """
    app = FastAPI()
    app.include_router(router)
    app.state.live = live
    app.state.tokens = TokenSigner(TEST_SECRET)
    if signed_in:
        app.dependency_overrides[live_viewer] = lambda: Principal("test-wall", Role.WALL)
    return app


@pytest.fixture
def live() -> LiveState:
    """An empty live state."""
    return LiveState()


@pytest.fixture
def wall_server(live: LiveState) -> Iterator[WallServer]:
    """The wall's router served by a real uvicorn over ``live``."""
    server = WallServer(make_app(live))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def feeder(live: LiveState) -> Iterator[Feeder]:
    """A thread that keeps ``live`` changing like a few schools' rooms would."""
    with Feeder(live) as feeding:
        yield feeding
