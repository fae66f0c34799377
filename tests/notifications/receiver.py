"""A webhook receiver on an ephemeral local port: records every request, answers as scripted.

``answers`` is a list consumed in order (then 200 for ever): a status code, ``(status, headers)``
or ``"hang"`` (no answer until well past the client's timeout).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.http_server import serving

HANG_SECONDS = 3.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def signature_verifies(self, secret: str) -> bool:
        timestamp = self.headers["X-Dashboard-Timestamp"]
        message = timestamp.encode() + b"." + self.body
        expected = "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers["X-Dashboard-Signature"])


@dataclass
class Receiver:
    url: str
    answers: list[Any] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self) -> Any:
        with self.lock:
            return self.answers.pop(0) if self.answers else 200


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.lock:
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
            answer = receiver.next_answer()
            if answer == "hang":
                time.sleep(HANG_SECONDS)
                answer = 200
            status, headers = answer if isinstance(answer, tuple) else (answer, {})
            text = b"ok" if status < 300 else f"refused with {status}".encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver(url="")
    with serving(_handler(receiver)) as server:
        receiver.url = f"{server.url}/hooks/dashboard/t0ken"
        yield receiver
