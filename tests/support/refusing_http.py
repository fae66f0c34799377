"""An HTTP server that answers every request with one fixed status: a git host refusing access."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from tests.support.http_server import LocalServer, serving


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
def refusing_server(status: int = 401) -> Iterator[LocalServer]:
    """A git smart-HTTP endpoint that answers ``status`` (set ``RequestHandlerClass.status`` to change it)."""
    with serving(type("Handler", (_Refusing,), {"status": status})) as server:
        yield server
