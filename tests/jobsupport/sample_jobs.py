"""Job functions used by the job-runner tests (importable by a real worker)."""

from __future__ import annotations

from core.models import JobRun
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


def wait_for_file(path: str, timeout: float = 60) -> str:
    """Blocks until ``path`` exists: a job a test can kill its worker in the middle of."""
    import time
    from pathlib import Path

    deadline = time.monotonic() + timeout
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.05)
    return path


def wait_for_own_heartbeat(timeout: float = 60) -> bool:
    """Returns once the job's own row shows a heartbeat written after it started."""
    import time

    from core.jobrunner import current_run

    run = current_run()
    assert run is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = JobRun.objects.get(pk=run.pk)
        if row.heartbeat_at and row.started_at and row.heartbeat_at > row.started_at:
            return True
        time.sleep(0.05)
    return False
