"""Job functions used by the job-runner tests (importable by a real worker)."""

from __future__ import annotations

from dashboard.models import JobRun
from integrations.errors import PermanentError, TemporaryError


def add(a: int, b: int) -> int:
    return a + b


def always_temporary() -> None:
    raise TemporaryError("registry answered 503", system="test")


def permanent() -> None:
    raise PermanentError("registry answered 401: bad credentials", system="test")


def crash() -> None:
    raise RuntimeError("unexpected")


def count_running() -> int:
    return JobRun.objects.filter(status="running").count()
