"""A tiny Grafana stand-in: the few HTTP API endpoints ``grafana push`` uses, answered as
Grafana 10/11 answers them, recording every call. No Grafana server can run in this test
environment (no package, no network), so this real HTTP server is the closest honest peer."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    """One request as the server saw it."""

    method: str
    path: str
    body: Any
    authorization: str


@dataclass
class GrafanaState:
    """What the stand-in stores, and the tokens it knows (admin, and a read-only viewer)."""

    admin_token: str
    viewer_token: str
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "dashboard"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: GrafanaState

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        """Quiet: the test reads ``state.calls`` instead."""

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        auth = self.headers.get("Authorization", "")
        state = self.state
        with state.lock:
            state.calls.append(Call(method, self.path, body, auth))
            status, answer = self._route(method, self.path.split("?")[0], body, auth)
        self._answer(status, answer)

    def _route(self, method: str, path: str, body: Any, auth: str) -> tuple[int, Any]:
        state = self.state
        if auth not in (f"Bearer {state.admin_token}", f"Bearer {state.viewer_token}"):
            return 401, {"message": "invalid API key", "traceID": ""}
        viewer = auth == f"Bearer {state.viewer_token}"
        if method == "GET" and (m := re.fullmatch(r"/api/folders/([^/]+)", path)):
            folder = state.folders.get(m[1])
            return (200, folder) if folder else (404, {"message": "folder not found",
                                                       "status": "not-found"})
        if method == "POST" and path == "/api/folders":
            if viewer:
                return 403, {"message": "You'll need additional permissions to perform this "
                                        "action. Permissions needed: folders:create"}
            uid = body.get("uid") or f"f{len(state.folders) + 1}"
            if uid in state.folders:
                return 409, {"message": "a folder with the same uid already exists"}
            folder = {"id": len(state.folders) + 1, "uid": uid, "title": body["title"],
                      "url": f"/dashboards/f/{uid}/{_slug(body['title'])}", "version": 1}
            state.folders[uid] = folder
            return 200, folder
        if method == "GET" and (m := re.fullmatch(r"/api/datasources/uid/([^/]+)", path)):
            source = state.datasources.get(m[1])
            return (200, source) if source else (404, {"message": "Data source not found"})
        if method == "POST" and path == "/api/datasources":
            if viewer:
                return 403, {"message": "You'll need additional permissions to perform this "
                                        "action. Permissions needed: datasources:create"}
            if any(s["name"] == body["name"] for s in state.datasources.values()):
                return 409, {"message": "data source with the same name already exists"}
            source = {**body, "id": len(state.datasources) + 1, "orgId": 1}
            state.datasources[body["uid"]] = source
            return 200, {"datasource": source, "id": source["id"], "name": body["name"],
                         "message": "Datasource added"}
        if method == "POST" and path == "/api/dashboards/db":
            board = body["dashboard"]
            uid = board["uid"]
            if body.get("folderUid") and body["folderUid"] not in state.folders:
                return 400, {"message": "folder not found"}
            old = state.dashboards.get(uid)
            if old is not None and not body.get("overwrite"):
                return 412, {"message": "A dashboard with the same uid already exists",
                             "status": "name-exists"}
            version = old["version"] + 1 if old else 1
            number = old["id"] if old else len(state.dashboards) + 1
            state.dashboards[uid] = {"id": number, "version": version, "body": body}
            return 200, {"id": number, "uid": uid, "url": f"/d/{uid}/{_slug(board['title'])}",
                         "status": "success", "version": version, "slug": _slug(board["title"]),
                         "folderUid": body.get("folderUid", "")}
        return 404, {"message": "Not found"}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        """GET."""
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        """POST."""
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802
        """PUT."""
        self._handle("PUT")


class FakeGrafana:
    """Serves the stand-in on a free loopback port in a thread: ``with FakeGrafana(...) as g``."""

    def __init__(self, admin_token: str, viewer_token: str) -> None:
        self.state = GrafanaState(admin_token, viewer_token)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-grafana",
                                       daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:port``."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeGrafana:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
