"""Shared fixtures: private servers on free ports, started by the tests themselves."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from smartschool_cli.localservers.influxdb import InfluxDB1, influxd_binary
from smartschool_cli.localservers.mosquitto import Mosquitto, mosquitto_binary
from smartschool_cli.localservers.postgres import Postgres, postgres_bindir
from smartschool_cli.localservers.victoria import VictoriaMetrics, victoria_binary

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing(what: str) -> None:
    pytest.fail(f"{what} is not installed; run scripts/bootstrap.sh", pytrace=False)


class _PlaywrightLoop:
    """Playwright's sync API keeps its own loop marked as running in this thread between
    calls, and needs the mark while it works; pytest-asyncio refuses to start the next
    async test's loop while the mark is there. Browser fixtures set it and park it."""

    loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def park(cls) -> None:
        """Remember Playwright's loop and unmark it, so async tests can run."""
        running = asyncio.events._get_running_loop()
        if running is not None:
            cls.loop = running
        asyncio.events._set_running_loop(None)

    @classmethod
    def resume(cls) -> None:
        """Mark Playwright's loop as running again before sync API calls."""
        if cls.loop is not None and not cls.loop.is_closed():
            asyncio.events._set_running_loop(cls.loop)


def _unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A private Mosquitto with persistence, fresh for each test."""
    if mosquitto_binary() is None:
        pytest.fail("mosquitto is not installed; run scripts/bootstrap.sh")
    server = Mosquitto(tmp_path / "mosquitto")
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB1]:
    """One private InfluxDB 1.6.7 for the session; tests take a database each (``influx_db``)."""
    if influxd_binary() is None:
        _missing("influxd (Debian package influxdb)")
    server = InfluxDB1(tmp_path_factory.mktemp("influxdb"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def influx_db(influxdb: InfluxDB1) -> Iterator[tuple[InfluxDB1, str]]:
    """``(server, dbname)``: a fresh, empty database on the session's InfluxDB."""
    if influxdb.proc is None or influxdb.proc.poll() is not None:
        influxdb.start()  # a previous test may have stopped or killed it
    name = _unique_name("test")
    influxdb.create_database(name)
    yield influxdb, name
    if influxdb.proc is not None and influxdb.proc.poll() is None:
        influxdb.drop_database(name)


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """A private VictoriaMetrics, fresh for each test (it starts in well under a second)."""
    if victoria_binary() is None:
        _missing("victoria-metrics")
    server = VictoriaMetrics(tmp_path / "victoria")
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    """One private PostgreSQL for the session; tests take a database each (``pg_url``)."""
    if postgres_bindir() is None:
        _missing("PostgreSQL (Debian package postgresql)")
    server = Postgres(tmp_path_factory.mktemp("postgres"))
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def pg_url(postgres: Postgres) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty PostgreSQL database."""
    if postgres.proc is None or postgres.proc.poll() is not None:
        postgres.start()  # a previous test may have stopped or killed it
    name = _unique_name("test")
    postgres.create_database(name)
    yield postgres.url(name)
    if postgres.proc is not None and postgres.proc.poll() is None:
        postgres.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLAlchemy URL of a SQLite file in the test's tmp dir."""
    return f"sqlite:///{tmp_path / 'smartschool.db'}"


@pytest.fixture(scope="session")
def _chromium() -> Iterator[Browser]:
    """Headless Debian Chromium launched once per session through Playwright's sync API."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        _missing("chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        _PlaywrightLoop.park()
        yield chromium
        _PlaywrightLoop.resume()
        chromium.close()
    _PlaywrightLoop.loop = None
    asyncio.events._set_running_loop(None)


@pytest.fixture
def browser(_chromium: Browser) -> Iterator[Browser]:
    """The session's headless Chromium (Playwright sync API: use it from sync tests only)."""
    _PlaywrightLoop.resume()
    yield _chromium
    _PlaywrightLoop.park()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh browser context; its last screen goes to ``test-artifacts/``."""
    from playwright.sync_api import Error as PlaywrightError

    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    page = context.new_page()
    yield page
    artifacts = request.config.rootpath / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid).strip("_")
    try:
        if not page.is_closed():
            page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    except PlaywrightError:
        pass  # a screenshot is a debugging aid; it must not turn a pass into an error
    finally:
        context.close()
