"""Error pages: JSON under /api/, HTML elsewhere."""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from redis.exceptions import RedisError

MESSAGES = {
    400: "Bad request.",
    403: "Your role does not allow this action.",
    404: "Not found.",
    500: "Internal error; it has been logged.",
    503: "The dashboard's Redis (sessions, sign-ins, queues) does not answer; try again in a moment.",
}


def _respond(request: HttpRequest, status: int) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": MESSAGES[status], "status": status}, status=status)
    return render(request, f"{status}.html", {"message": MESSAGES[status]}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _respond(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _respond(request, 403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _respond(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    if isinstance(sys.exc_info()[1], RedisError):
        return _redis_unavailable(request)
    return _respond(request, 500)


def _redis_unavailable(request: HttpRequest) -> HttpResponse:
    """503, on a page that reads nothing: the signed-in user and the session are in Redis too."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": MESSAGES[503], "status": 503}, status=503)
    return HttpResponse(render_to_string("503.html", {"message": MESSAGES[503]}), status=503)
