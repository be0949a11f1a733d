"""A webhook receiver for the hub's tests: a real HTTP server in a thread."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(ThreadingHTTPServer):
    """A webhook's far end (a parents' app, a technicians' chat bot): records every POST and
    answers 500 to the first ``fail`` ones."""

    def __init__(self, port: int = 0, fail: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.fail = fail
        self.posts: list[tuple[str, dict[str, str], dict]] = []
        self.lock = threading.Lock()

    def bodies(self) -> list[dict]:
        """The JSON bodies received, in order."""
        with self.lock:
            return [body for _, _, body in self.posts]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.posts.append((self.path, dict(self.headers), body))
            failing = len(self.server.posts) <= self.server.fail
        self.send_response(500 if failing else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def start_receiver(port: int = 0, fail: int = 0) -> tuple[Receiver, threading.Thread]:
    """A receiver serving in a thread."""
    server = Receiver(port, fail)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server, thread


def stop_receiver(server: Receiver) -> None:
    """Stop serving and close the socket."""
    server.shutdown()
    server.server_close()
