"""Background jobs on django-rq, each recorded in a :class:`JobRun` row users can see.

``enqueue`` writes the row and pushes the job to Redis only when the surrounding
transaction commits, so a worker never sees a job for data that was rolled back. The
worker runs :func:`execute`, which claims the row with a conditional UPDATE (a job pushed
twice runs once), calls the job function with the stored arguments and records the end.
While it runs, a heartbeat thread stamps the row every ``JOB_HEARTBEAT_SECONDS``; a run
whose stamps stop (its worker was killed) is found by :func:`recover_lost_runs` within
``JOB_LOST_AFTER`` seconds and retried. A :class:`TemporaryError` is retried with a
growing delay up to ``max_attempts``: the run waits in the database (``run_after``) and
the scheduler process queues it when it is due (:func:`queue_due_retries`), so retries
never depend on which worker holds a lock. Any other error fails the run at once with
the reason shown on the jobs page.
"""

from __future__ import annotations

import logging
import os
import socket
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import django_rq
from django.conf import settings
from django.db import models, transaction
from django.db.models import CharField, F, OuterRef, Q, Subquery
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.module_loading import import_string
from redis.exceptions import RedisError
from rq.job import Job, JobStatus

from core import audit, logcontext
from core.heartbeat import Heartbeat
from core.middleware import current_request_id
from core.models import JobRun
from integrations.errors import TemporaryError

logger = logging.getLogger(__name__)
# RQ job states in which a run that is still "queued" will never be picked up.
GONE = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED)
_current_run: ContextVar[JobRun | None] = ContextVar("current_job_run", default=None)


def current_run() -> JobRun | None:
    """The job run being executed in this worker, for jobs that need their attempt count."""
    return _current_run.get()


def is_last_attempt() -> bool:
    run = current_run()
    return run is None or run.attempts >= run.max_attempts


def dotted(func: Callable[..., Any] | str) -> str:
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
        name=dotted(func),
        queue=queue,
        args=list(args),
        max_attempts=(settings.JOB_MAX_RETRIES + 1) if max_attempts is None else max_attempts,
        object_type=related._meta.label_lower if related is not None else "",
        object_id=str(related.pk) if related is not None else "",
        created_by=audit.user_of(actor),
        request_id=_enqueuing_request_id(),
    )
    logger.info("job run %s (%s) queued on %s", run.pk, run.name, queue)
    transaction.on_commit(lambda: _push_committed(run))
    return run


def _push_committed(run: JobRun) -> None:
    """Push a run whose row just committed. When Redis does not take it, what the caller did is
    saved all the same: the run stays queued and the scheduler pushes it once Redis answers
    (:func:`repush_vanished`), so the request that enqueued it does not fail after the fact."""
    try:
        push(run)
    except RedisError as exc:
        logger.warning(
            "job run %s (%s) stays queued: Redis did not take it (%s); the scheduler pushes it again",
            run.pk,
            run.name,
            exc,
        )


M = TypeVar("M", bound=models.Model)


def given_up_on(
    func: Callable[..., Any] | str, objects: models.QuerySet[M], *, limit: int = 500
) -> list[tuple[M, str]]:
    """Those of ``objects`` whose newest run of ``func`` (enqueued with ``related=`` the object)
    failed for good, with that run's error, oldest object first: one query, for the periodic
    sweeps that close what a lost worker left open (a delivery pending, a test "testing")."""
    newest = JobRun.objects.filter(
        name=dotted(func),
        object_type=objects.model._meta.label_lower,
        object_id=Cast(OuterRef("pk"), CharField()),
    ).order_by("-pk")
    found = (
        objects.annotate(
            given_up_status=Subquery(newest.values("status")[:1]),
            given_up_error=Subquery(newest.values("error")[:1]),
        )
        .filter(given_up_status=JobRun.Status.FAILED)
        .order_by("pk")[:limit]
    )
    return [(obj, str(getattr(obj, "given_up_error", "") or "")) for obj in found]


def _enqueuing_request_id() -> str:
    """The request that enqueues, or for a job enqueued by a job, the request behind that one."""
    parent = current_run()
    return current_request_id.get() or (parent.request_id if parent is not None else "")


def log_fields(run: JobRun) -> dict[str, Any]:
    """What each line a worker logs for ``run`` carries (see core/logcontext.py)."""
    return {
        "job_run_id": run.pk,
        "job_name": run.name,
        "job_attempt": run.attempts,
        "request_id": run.request_id,
        **logcontext.object_fields(run.object_type, run.object_id),
    }


def enqueue_once(
    func: Callable[..., Any] | str, *args: Any, waiting_only: bool = False, **kwargs: Any
) -> JobRun | None:
    """Enqueue unless a run of the same job with the same arguments is still active.

    With ``waiting_only``, a run already executing does not count: for jobs that loop over
    work and may have finished looking before the new work arrived.
    """
    recover_lost_runs(name=dotted(func))
    statuses = (JobRun.Status.QUEUED, JobRun.Status.RETRYING) if waiting_only else JobRun.ACTIVE
    active = JobRun.objects.filter(name=dotted(func), args=list(args), status__in=statuses)
    if active.exists():
        return None
    return enqueue(func, *args, **kwargs)


def start_for(
    actor: Any, func: Callable[..., Any] | str, *args: Any, queue: str = "default"
) -> JobRun | None:
    """A person starts a job now (a sync, say): queued unless one is active, and audited."""
    with transaction.atomic():
        run = enqueue_once(func, *args, queue=queue, actor=actor)
        if run is not None:
            audit.record("job.start", run, actor=actor, after={"job": run.name, "args": run.args})
    return run


def push(run: JobRun) -> None:
    """Put a recorded run on its Redis queue; the RQ job id names the run and its attempt."""
    django_rq.get_queue(run.queue).enqueue(execute, run.pk, job_id=rq_job_id(run))


def rq_job_id(run: JobRun) -> str:
    return f"jobrun-{run.pk}-{run.attempts}"


def worker_id() -> str:
    """This process, as shown on the jobs page and in deployment leases."""
    return f"{socket.gethostname()}:{os.getpid()}"


# --- running a job (in the worker) -------------------------------------------------------------


def _claim(run_id: int) -> JobRun | None:
    now = timezone.now()
    claimed = JobRun.objects.filter(
        pk=run_id, status__in=[JobRun.Status.QUEUED, JobRun.Status.RETRYING]
    ).update(
        status=JobRun.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        worker=worker_id(),
        attempts=F("attempts") + 1,
    )
    return JobRun.objects.get(pk=run_id) if claimed else None


def _this_attempt(run: JobRun) -> models.QuerySet[JobRun]:
    """The run, only while this attempt still owns it: a run declared lost and retried
    elsewhere is not overwritten by the worker that lost it."""
    return JobRun.objects.filter(pk=run.pk, attempts=run.attempts, status=JobRun.Status.RUNNING)


def _finish(run: JobRun, status: str, *, error: str = "", result: Any = None) -> None:
    _this_attempt(run).update(status=status, finished_at=timezone.now(), error=error[:10000], result=result)


def execute(run_id: int) -> Any:
    """Worker entry point: claim, run and record one job run."""
    run = _claim(run_id)
    if run is None:
        logger.info("job run %s is not queued any more; skipping", run_id)
        return None
    token = _current_run.set(run)
    try:
        with logcontext.bind(**log_fields(run)):
            return _run_claimed(run)
    finally:
        _current_run.reset(token)


def _run_claimed(run: JobRun) -> Any:
    logger.info("job run %s (%s) started, attempt %s of %s", run.pk, run.name, run.attempts, run.max_attempts)
    beat = Heartbeat(
        f"heartbeat-jobrun-{run.pk}",
        settings.JOB_HEARTBEAT_SECONDS,
        lambda: _this_attempt(run).update(heartbeat_at=timezone.now()),
    )
    try:
        with beat:
            result = import_string(run.name)(*run.args)
    except TemporaryError as exc:
        _retry_or_fail(run, exc)
        return None
    except Exception as exc:
        logger.exception("job run %s (%s) failed", run.pk, run.name)
        _finish(run, JobRun.Status.FAILED, error=f"{exc}\n\n{traceback.format_exc()}")
        return None
    _finish(run, JobRun.Status.SUCCEEDED, result=result if _is_json(result) else None)
    logger.info("job run %s (%s) succeeded", run.pk, run.name)
    return result


def _retry_or_fail(run: JobRun, exc: TemporaryError) -> None:
    if run.attempts >= run.max_attempts:
        logger.warning("job run %s (%s) gave up after %s attempt(s): %s", run.pk, run.name, run.attempts, exc)
        _finish(run, JobRun.Status.FAILED, error=f"gave up after {run.attempts} attempt(s): {exc}")
        return
    due = timezone.now() + timedelta(seconds=retry_delay(run, exc))
    logger.warning(
        "job run %s (%s) attempt %s failed, retrying at %s: %s", run.pk, run.name, run.attempts, due, exc
    )
    _this_attempt(run).update(
        status=JobRun.Status.RETRYING,
        run_after=due,
        error=f"attempt {run.attempts} of {run.max_attempts} failed, retrying at {due:%H:%M:%S} UTC: {exc}",
    )


def retry_delay(run: JobRun, exc: TemporaryError) -> float:
    """Seconds before the next attempt: what the other side asked for, else doubling."""
    return exc.retry_after or settings.JOB_RETRY_DELAY * 2 ** (run.attempts - 1)


def _is_json(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)


# --- keeping runs moving (the scheduler process) ------------------------------------------------


def queue_due_retries(now: datetime | None = None, limit: int = 200) -> list[int]:
    """Queue retrying runs whose time has come. Each is moved by one conditional UPDATE, so
    with several schedulers exactly one of them pushes it."""
    now = now or timezone.now()
    due = JobRun.objects.filter(status=JobRun.Status.RETRYING, run_after__lte=now)
    queued = []
    for run in due.order_by("run_after")[:limit]:
        with transaction.atomic():
            if due.filter(pk=run.pk).update(status=JobRun.Status.QUEUED):
                transaction.on_commit(partial(push, run))
                queued.append(run.pk)
    return queued


def recover_lost_runs(now: datetime | None = None, *, name: str | None = None) -> list[int]:
    """Runs whose worker stopped beating (killed, out of memory, node gone) are retried, or
    failed with the reason once out of attempts. Found within ``JOB_LOST_AFTER`` seconds."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.JOB_LOST_AFTER)
    lost = JobRun.objects.filter(status=JobRun.Status.RUNNING, heartbeat_at__lt=cutoff)
    if name is not None:
        lost = lost.filter(name=name)
    recovered = []
    for run in lost.order_by("heartbeat_at")[:200]:
        why = (
            f"attempt {run.attempts} lost: worker {run.worker or '?'} stopped answering "
            f"(no heartbeat since {run.heartbeat_at:%H:%M:%S} UTC)"
        )
        if run.attempts < run.max_attempts:
            fields = {"status": JobRun.Status.RETRYING, "run_after": now, "error": f"{why}; retrying"}
        else:
            fields = {"status": JobRun.Status.FAILED, "finished_at": now, "error": f"{why}; no attempts left"}
        if _this_attempt(run).filter(heartbeat_at__lt=cutoff).update(**fields):
            logger.warning("job run %s (%s): %s", run.pk, run.name, why)
            recovered.append(run.pk)
    return recovered


def repush_vanished(now: datetime | None = None, *, older_than: float = 30, limit: int = 500) -> list[int]:
    """Queued runs whose RQ job is gone (Redis restarted without persistence, or a worker
    died between taking the job and claiming the run) are pushed again."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=older_than)
    waiting = JobRun.objects.filter(status=JobRun.Status.QUEUED).filter(
        Q(run_after__lt=cutoff) | Q(run_after__isnull=True, enqueued_at__lt=cutoff)
    )
    runs = list(waiting.order_by("enqueued_at")[:limit])
    if not runs:
        return []
    connection = django_rq.get_connection("default")
    statuses = Job.fetch_many([rq_job_id(run) for run in runs], connection=connection)
    pushed = []
    for run, job in zip(runs, statuses, strict=True):
        if job is None or job.get_status(refresh=False) in GONE:
            push(run)
            pushed.append(run.pk)
    return pushed
