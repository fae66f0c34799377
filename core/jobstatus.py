"""What the last run of a recurring job says, for the pages where its failure matters.

A failed tag sync belongs on the images and application pages, a failed store sync on the
models page: people look there, not only at the jobs page. Read from the ``JobRun`` rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core import jobrunner
from core.models import JobRun


@dataclass(frozen=True)
class JobFailure:
    run_id: int
    what: str  # "tag sync", "model store sync", ...
    reason: str  # the error's first line (the traceback stays on the job's page)
    finished_at: datetime | None


def last_failure(job: Callable[..., Any] | str, what: str) -> JobFailure | None:
    """The latest finished run of job ``name`` if it failed; None if it succeeded or never ran."""
    finished = JobRun.objects.filter(
        name=jobrunner.dotted(job), status__in=[JobRun.Status.SUCCEEDED, JobRun.Status.FAILED]
    )
    run = finished.order_by("-finished_at", "-pk").only("status", "error", "finished_at").first()
    if run is None or run.status != JobRun.Status.FAILED:
        return None
    reason = run.error.strip().splitlines()[0] if run.error.strip() else "no reason recorded"
    return JobFailure(run_id=run.pk, what=what, reason=reason, finished_at=run.finished_at)
