"""The errors every adapter raises.

Callers (jobs, services) decide what to do from the class alone: a
:class:`TemporaryError` is worth retrying later, a :class:`PermanentError` is not and its
message is shown to the user as the reason.
"""

from __future__ import annotations


class IntegrationError(Exception):
    """Base class: something went wrong talking to an external system."""

    def __init__(self, message: str, *, system: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.system = system
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.system}: {self.message}" if self.system else self.message


class TemporaryError(IntegrationError):
    """Transient failure (timeout, connection refused, 5xx, 429): retry later."""


class PermanentError(IntegrationError):
    """Failure that retrying will not fix (bad request, 4xx, invalid data)."""


class NotFound(PermanentError):
    """The object asked for does not exist."""


class Unauthorized(PermanentError):
    """Credentials missing, wrong or lacking permission (401/403)."""


class Conflict(TemporaryError):
    """Concurrent modification (409, failed precondition); re-read and try again."""


class IntegrityMismatch(PermanentError):
    """Content does not match its recorded digest."""


class Cancelled(PermanentError):
    """The work was cancelled on request (not a failure: the caller records it as cancelled)."""
