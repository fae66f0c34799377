"""Background jobs on django-rq, each recorded in a :class:`JobRun` row users can see.

``enqueue`` writes the row and pushes the job to Redis only when the surrounding
transaction commits, so a worker never sees a job for data that was rolled back. The
worker runs :func:`execute`, which claims the row with a conditional UPDATE (a job pushed
twice runs once), calls the job function with the stored arguments and records the end.
A :class:`TemporaryError` is retried with a growing delay up to ``max_attempts``; any
other error fails the run at once with the reason shown on the jobs page.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

import django_rq
from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from dashboard import audit
from dashboard.models import JobRun
from integrations.errors import TemporaryError

logger = logging.getLogger(__name__)
_current_run: ContextVar[JobRun | None] = ContextVar("current_job_run", default=None)


def current_run() -> JobRun | None:
    """The job run being executed in this worker, for jobs that need their attempt count."""
    return _current_run.get()


def is_last_attempt() -> bool:
    run = current_run()
    return run is None or run.attempts >= run.max_attempts


def _dotted(func: Callable[..., Any] | str) -> str:
    return func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}"


def enqueue(
    func: Callable[..., Any] | str,
    *args: Any,
    queue: str = "default",
    related: models.Model | None = None,
    actor: Any = None,
    max_attempts: int | None = None,
) -> JobRun:
    """Record a job run and push it to ``queue`` once the current transaction commits."""
    if queue not in settings.JOB_QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    run = JobRun.objects.create(
        name=_dotted(func),
        queue=queue,
        args=list(args),
        max_attempts=(settings.JOB_MAX_RETRIES + 1) if max_attempts is None else max_attempts,
        object_type=related._meta.label_lower if related is not None else "",
        object_id=str(related.pk) if related is not None else "",
        created_by=audit.user_of(actor),
    )
    transaction.on_commit(lambda: push(run))
    return run


def enqueue_once(
    func: Callable[..., Any] | str, *args: Any, waiting_only: bool = False, **kwargs: Any
) -> JobRun | None:
    """Enqueue unless a run of the same job with the same arguments is still active.

    With ``waiting_only``, a run already executing does not count: for jobs that loop over
    work and may have finished looking before the new work arrived.
    """
    forget_lost_runs(_dotted(func))
    statuses = (JobRun.Status.QUEUED, JobRun.Status.RETRYING) if waiting_only else JobRun.ACTIVE
    active = JobRun.objects.filter(name=_dotted(func), args=list(args), status__in=statuses)
    if active.exists():
        return None
    return enqueue(func, *args, **kwargs)


def forget_lost_runs(name: str) -> int:
    """Fail runs that cannot still be alive: running, or waiting, for longer than a job may take.

    A worker killed mid-job (or a Redis that lost its queue) leaves its run active forever;
    without this, ``enqueue_once`` would never queue that job again.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.JOB_TIMEOUT + 60)
    lost = JobRun.objects.filter(name=name, status__in=JobRun.ACTIVE).filter(
        models.Q(status=JobRun.Status.RUNNING, heartbeat_at__lt=cutoff)
        | models.Q(status=JobRun.Status.QUEUED, enqueued_at__lt=cutoff)
    )
    return lost.update(
        status=JobRun.Status.FAILED,
        finished_at=timezone.now(),
        error="lost: no worker finished it within JOB_TIMEOUT (the worker stopped or the queue was lost)",
    )


def push(run: JobRun, delay: float | None = None) -> None:
    """Put a recorded run on its Redis queue (now, or after ``delay`` seconds)."""
    queue = django_rq.get_queue(run.queue)
    job_id = f"jobrun-{run.pk}-{run.attempts}"
    if delay:
        queue.enqueue_in(timedelta(seconds=delay), execute, run.pk, job_id=job_id)
    else:
        queue.enqueue(execute, run.pk, job_id=job_id)


def _claim(run_id: int) -> bool:
    now = timezone.now()
    return bool(
        JobRun.objects.filter(pk=run_id, status__in=[JobRun.Status.QUEUED, JobRun.Status.RETRYING]).update(
            status=JobRun.Status.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1
        )
    )


def _finish(run_id: int, status: str, *, error: str = "", result: Any = None) -> None:
    JobRun.objects.filter(pk=run_id).update(
        status=status, finished_at=timezone.now(), error=error[:10000], result=result
    )


def execute(run_id: int) -> Any:
    """Worker entry point: claim, run and record one job run."""
    if not _claim(run_id):
        logger.info("job run %s is not queued any more; skipping", run_id)
        return None
    run = JobRun.objects.get(pk=run_id)
    token = _current_run.set(run)
    try:
        result = import_string(run.name)(*run.args)
    except TemporaryError as exc:
        _retry_or_fail(run, exc)
        return None
    except Exception as exc:
        logger.exception("job run %s (%s) failed", run.pk, run.name)
        _finish(run.pk, JobRun.Status.FAILED, error=f"{exc}\n\n{traceback.format_exc()}")
        return None
    finally:
        _current_run.reset(token)
    _finish(run.pk, JobRun.Status.SUCCEEDED, result=result if _is_json(result) else None)
    return result


def _retry_or_fail(run: JobRun, exc: TemporaryError) -> None:
    if run.attempts >= run.max_attempts:
        reason = f"gave up after {run.attempts} attempt(s): {exc}"
        _finish(run.pk, JobRun.Status.FAILED, error=reason)
        return
    delay = exc.retry_after or settings.JOB_RETRY_DELAY * 2 ** (run.attempts - 1)
    JobRun.objects.filter(pk=run.pk).update(
        status=JobRun.Status.RETRYING, error=f"attempt {run.attempts} failed, retrying in {delay:.0f}s: {exc}"
    )
    run.refresh_from_db()
    push(run, delay=delay)


def _is_json(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)
