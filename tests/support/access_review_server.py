"""An HTTP server for the two endpoints a connection test calls that the Kubernetes stand-in
lacks or is not needed for: ``GET /version`` and ``POST .../selfsubjectaccessreviews``.

It answers like the API server does (``status.allowed`` and ``status.reason``) from a table of
granted (verb, resource) pairs, checks the bearer token, and records each review it was asked.
Only for the permission report; deployments are tested against the stand-in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.http_server import serving

REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
VERSION = {
    "major": "1",
    "minor": "30",
    "gitVersion": "v1.30.0",
    "gitCommit": "7c48c2bd72b9bf5c44d21d7338cc7bea77d0ad2a",
    "gitTreeState": "clean",
    "buildDate": "2024-04-17T17:27:03Z",
    "goVersion": "go1.22.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@dataclass
class AccessReviews:
    token: str
    granted: set[tuple[str, str]]
    asked: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


@contextmanager
def access_review_server(
    token: str, granted: set[tuple[str, str]], *, version: dict[str, str] | None = None
) -> Iterator[AccessReviews]:
    state = AccessReviews(token, granted)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {state.token}":
                return True
            self._answer(401, {"kind": "Status", "status": "Failure", "message": "Unauthorized", "code": 401})
            return False

        def do_GET(self) -> None:
            if not self._authorized():
                return
            if self.path.split("?")[0].rstrip("/") == "/version":
                self._answer(200, VERSION if version is None else version)
            else:
                self._answer(404, {"kind": "Status", "status": "Failure", "code": 404})

        def do_POST(self) -> None:
            if not self._authorized():
                return
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if self.path.split("?")[0] != REVIEWS or body.get("kind") != "SelfSubjectAccessReview":
                self._answer(404, {"kind": "Status", "status": "Failure", "code": 404})
                return
            attributes = body["spec"]["resourceAttributes"]
            state.asked.append(attributes)
            allowed = (attributes["verb"], attributes["resource"]) in state.granted
            status = {"allowed": allowed, **({} if allowed else {"reason": "RBAC: no rule grants it"})}
            self._answer(201, {**body, "status": status})

    with serving(Handler) as server:
        state.url = server.url
        yield state
