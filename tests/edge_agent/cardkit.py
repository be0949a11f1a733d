"""Test tools for doors and tills: a snapshot HTTP server, hub handlers, an agent in a thread.

The snapshot server is a tiny real HTTP server (stdlib ``http.server`` in a thread) serving the
hub's ``/api/v1/edge/roster`` and ``/balances`` shapes with ETag/304, standing in until the hub's
own endpoints are there; the hub's request side is the real ``Ingest`` with small handlers.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from edge_agent.app import EdgeAgent
from edge_agent.settings import EdgeConfig
from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.db.people import ProcessedRequestRow, SchoolRow
from hub.ingest.service import Ingest
from hub.services.requests import Outcome, RequestContext
from hub.settings import load_settings
from protocol import Code
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.edge_agent.helpers import SCHOOL, edge_config

T = TypeVar("T")
TOKEN = "edge-test-token"
MAI_ANH = "em:0F00A1B2C3"
BAO = "em:0F00A1B2C4"
BLOCKED = "em:0F00A1B2C5"
UNKNOWN = "em:0F00FFFFFF"


def roster_body(version: str = "r1") -> dict[str, Any]:
    """A roster of three cards, one blocked."""
    return {
        "version": version,
        "school": SCHOOL,
        "cards": {
            MAI_ANH: {"student": "HS0001", "name": "Nguyễn Thị Mai Anh", "class": "10A1",
                      "photo_url": "", "status": "active"},
            BAO: {"student": "HS0002", "name": "Trần Quốc Bảo", "class": "11C3",
                  "photo_url": "", "status": "active"},
            BLOCKED: {"student": "HS0003", "name": "Lê Minh Châu", "class": "10A1",
                      "photo_url": "", "status": "blocked"},
        },
    }


def balances_body(version: str = "b1", offline_limit: int = 50_000) -> dict[str, Any]:
    """Balances for the roster's cards, with the school's offline limit."""
    return {
        "version": version,
        "school": SCHOOL,
        "offline_limit": offline_limit,
        "cards": {
            MAI_ANH: {"balance": 120_000, "daily_limit": None, "spent_today": 0},
            BAO: {"balance": 10_000, "daily_limit": 40_000, "spent_today": 0},
        },
    }


class SnapshotServer:
    """Serves roster and balances with ETag/304 and bearer auth; counts what it answered."""

    def __init__(self) -> None:
        self.bodies: dict[str, dict[str, Any]] = {
            "roster": roster_body(), "balances": balances_body()}
        self.hits: dict[int, int] = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                outer._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def _answer(self, req: BaseHTTPRequestHandler, status: int, body: bytes = b"",
                etag: str | None = None) -> None:
        with self.lock:
            self.hits[status] = self.hits.get(status, 0) + 1
        req.send_response(status)
        if etag:
            req.send_header("ETag", etag)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(req.path)
        name = parts.path.removeprefix("/api/v1/edge/")
        if req.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._answer(req, 401, b'{"detail":"no token"}')
        if name not in self.bodies or parse_qs(parts.query).get("school") != [SCHOOL]:
            return self._answer(req, 404, b"{}")
        with self.lock:
            body = self.bodies[name]
        version = body["version"]
        if req.headers.get("If-None-Match") == version:
            return self._answer(req, 304, etag=version)
        self._answer(req, 200, json.dumps(body, ensure_ascii=False).encode(), etag=version)

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


def card_config(
    mosquitto: Mosquitto, tmp_path: Path, snapshots: SnapshotServer | str, *,
    devices: list[dict[str, Any]], answer_timeout_s: float = 1.5, **top: Any,
) -> EdgeConfig:
    """A box with card readers, talking to the test broker and snapshot server."""
    url = snapshots if isinstance(snapshots, str) else snapshots.url
    return edge_config(
        mosquitto, tmp_path, devices=devices,
        hub={"url": url, "token": TOKEN, "snapshot_every_s": 3600,
             "answer_timeout_s": answer_timeout_s},
        screen={"port": 0}, device_retry_min_s=0.05, device_retry_max_s=0.3, **top,
    )


def reader(device_id: str, tty: Path, role: str, **extra: Any) -> dict[str, Any]:
    """An RDM6300 device entry with a short re-arm time."""
    return {"id": device_id, "driver": "rdm6300", "port": str(tty), "role": role,
            "rearm_s": 0.1, **extra}


# -- the hub side ------------------------------------------------------------------------------

def _count(session: Session) -> int:
    school = session.get(SchoolRow, SCHOOL)
    assert school is not None
    school.late_grace_min += 1  # a side effect per decision: a second decision would show
    return school.late_grace_min


def hub_tap(session: Session, context: RequestContext) -> Outcome:
    """Marks every known card present, with the name the hub holds."""
    _count(session)
    names = {MAI_ANH: "Nguyễn Thị Mai Anh", BAO: "Trần Quốc Bảo"}
    card = context.request.card
    if card not in names:
        return Outcome(Code.DECLINED_UNKNOWN_CARD, {})
    return Outcome(Code.ATTENDANCE_PRESENT, {"student": "HS", "name": names[card],
                                             "class": "10A1", "status": "present"})


def hub_pay(session: Session, context: RequestContext) -> Outcome:
    """Approves every payment and says whether it came approved offline."""
    _count(session)
    request = context.request
    return Outcome(Code.APPROVED, {"balance": 120_000 - request.amount, "amount": request.amount,
                                   "name": "Nguyễn Thị Mai Anh", "offline": request.offline})


@contextmanager
def hub_ingest(mosquitto: Mosquitto, db_url: str, client_id: str | None = None
               ) -> Iterator[tuple[Ingest, Engine]]:
    """A real hub ingest on SQLite with the test handlers."""
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    with Session(engine) as session, session.begin():
        if session.get(SchoolRow, SCHOOL) is None:
            session.add(SchoolRow(id=SCHOOL, name="THPT Chuyên Trần Đại Nghĩa", late_grace_min=0))
    # One hub on Mosquitto: a plain persistent subscription, which (unlike a shared one on
    # Mosquitto 2.0.11) survives a broker restart.
    settings = load_settings(mqtt_url=mosquitto.url, mqtt_client_id=client_id or f"hub-{uuid.uuid4().hex[:6]}",
                             db_url=db_url, mqtt_shared=False)
    hub = Ingest(settings, engine=engine, handlers={"tap": hub_tap, "pay": hub_pay})
    hub.start()
    assert hub.link.wait_ready(15)
    try:
        yield hub, engine
    finally:
        hub.stop()
        engine.dispose()


def decisions(engine: Engine) -> int:
    """How many times the hub's handlers decided something."""
    with Session(engine) as session:
        school = session.get(SchoolRow, SCHOOL)
        return school.late_grace_min if school else 0


def processed(engine: Engine, type_: str | None = None) -> list[ProcessedRequestRow]:
    """Requests the hub recorded, oldest first."""
    with Session(engine) as session:
        query = select(ProcessedRequestRow).order_by(ProcessedRequestRow.processed_at)
        if type_:
            query = query.where(ProcessedRequestRow.type == type_)
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


def processed_count(engine: Engine) -> int:
    """How many requests the hub recorded."""
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(ProcessedRequestRow)) or 0


# -- an agent in its own thread (for sync tests with the browser) ------------------------------

class AgentThread:
    """Runs ``EdgeAgent(config)`` on an event loop in a thread; ``call`` runs coroutines there."""

    def __init__(self, config: EdgeConfig) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.agent: EdgeAgent | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="edge-agent", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._run())
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            self._error = error
            self._ready.set()
        finally:
            self.loop.close()

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        async with EdgeAgent(self.config) as agent:
            self.agent = agent
            self._ready.set()
            await self._stop.wait()

    def start(self, timeout: float = 20) -> EdgeAgent:
        """Start the agent and wait until it runs."""
        self._thread.start()
        assert self._ready.wait(timeout), "agent did not start"
        if self._error is not None:
            raise self._error
        assert self.agent is not None
        return self.agent

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float = 20) -> T:
        """Run ``fn()`` on the agent's loop and return its result."""
        async def run() -> T:
            return await fn()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def stop(self) -> None:
        """Stop the agent and its thread."""
        if self._stop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
