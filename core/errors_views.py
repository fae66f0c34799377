"""Error pages: JSON under /api/, HTML elsewhere."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

MESSAGES = {
    400: "Bad request.",
    403: "Your role does not allow this action.",
    404: "Not found.",
    500: "Internal error; it has been logged.",
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
    return _respond(request, 500)
