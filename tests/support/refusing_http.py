"""An HTTP server that answers every request with one fixed status: a git host refusing access."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Refusing(BaseHTTPRequestHandler):
    status = 401

    def do_GET(self) -> None:
        self.send_response(self.status)
        if self.status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def refusing_server(status: int = 401) -> Iterator[ThreadingHTTPServer]:
    """A git smart-HTTP endpoint that answers ``status`` (set ``RequestHandlerClass.status`` to change it)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Refusing,), {"status": status}))
    server.block_on_close = False  # git may leave a connection open; nothing to wait for
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
