"""Request ids: one per request, unique and ours, carrying the client's ``X-Request-ID`` as a prefix.

A client's id is not trusted as is: two requests could then share an id in the audit trail (by
accident or to blur what one of them did). The id is always ``<client id>+<ours>`` (or just
ours), unique per request; filtering the audit trail by the client's id finds its requests.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="")
# "+" is not allowed here, so where the client's part ends is never in doubt.
VALID_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,40}$")


def new_request_id(incoming: str) -> str:
    own = uuid.uuid4().hex
    return f"{incoming}+{own[:20]}" if VALID_CLIENT_ID.match(incoming) else own


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = new_request_id(request.headers.get("X-Request-ID", ""))
        request.request_id = request_id  # type: ignore[attr-defined]  # our own mark on the request
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response
