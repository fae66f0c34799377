"""A webhook receiver to try channels with on one machine (``manage.py receive_notifications``).

It prints one line per message (event, delivery, whether the signature holds, the message's
title and summary, its link) and answers as a careful receiver would: 204 when the message is
signed with the secret it was given and fresh, 401 with the reason otherwise, which the
channel's delivery log then shows (a 4xx is not retried). Given no secret it checks nothing and
takes everything: Teams and Slack channels need not have one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from integrations.notify import signature_problem

MAX_BODY = 1024 * 1024  # a notification is a few KiB


class Output(Protocol):
    def write(self, text: str, /) -> object: ...
    def flush(self) -> object: ...


@dataclass(frozen=True)
class Check:
    secret: str
    max_age: int

    def problem(self, timestamp: str, signature: str, body: bytes) -> str | None:
        if not self.secret:
            return None
        return signature_problem(self.secret, timestamp, signature, body, max_age=self.max_age)


def describe(body: bytes) -> str:
    """The title, summary and link of a webhook, Slack or Teams message, as far as it has them."""
    try:
        message: Any = json.loads(body)
    except ValueError:
        return f"not JSON ({len(body)} bytes)"
    if not isinstance(message, dict):
        return "JSON, but not an object"
    if "event" in message:  # webhook
        parts = [message.get("title"), message.get("summary"), message.get("url")]
    else:  # Slack ("text") or Teams ("summary" of the card message)
        parts = [message.get("text") or message.get("summary")]
    return " · ".join(str(part) for part in parts if part) or "(no title or summary)"


def handler(check: Check, out: Output) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "dashboard-notification-receiver"

        def do_POST(self) -> None:
            length = self.headers.get("Content-Length", "")
            if not length.isdecimal() or int(length) > MAX_BODY:
                self._answer(411 if not length else 413, "send a JSON body of at most 1 MiB with its length")
                return
            body = self.rfile.read(int(length))
            problem = check.problem(
                self.headers.get("X-Dashboard-Timestamp", ""),
                self.headers.get("X-Dashboard-Signature", ""),
                body,
            )
            verdict = "not checked (no secret given)" if not check.secret else problem or "signature verified"
            event = self.headers.get("X-Dashboard-Event", "?")
            delivery = self.headers.get("X-Dashboard-Delivery", "?")
            when = time.strftime("%H:%M:%S")
            out.write(f"{when}  {event}  delivery {delivery}  {verdict}\n    {describe(body)}\n")
            out.flush()
            if problem:
                self._answer(401, f"refused: {problem}")
            else:
                self._answer(204, "")

        def _answer(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per message above is the log

    return Handler


def server(host: str, port: int, check: Check, out: Output) -> ThreadingHTTPServer:
    """The receiver, bound (``port`` 0: any free port) and ready for ``serve_forever``."""
    return ThreadingHTTPServer((host, port), handler(check, out))
