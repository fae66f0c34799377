"""Errors service functions raise; views turn them into form errors, API bodies or messages."""

from __future__ import annotations


class ServiceError(Exception):
    """The request cannot be carried out; ``message`` tells the user why."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ForbiddenError(ServiceError):
    """The user's role or relation to the object does not allow this (403)."""

    status_code = 403
    code = "forbidden"


class NotFoundError(ServiceError):
    status_code = 404
    code = "not_found"


class ConflictError(ServiceError):
    """The object is not in a state that allows this (409)."""

    status_code = 409
    code = "conflict"


class UnavailableError(ServiceError):
    """An external system could not be reached; try again later (503)."""

    status_code = 503
    code = "unavailable"
