"""Recurring background work, fired by RQ's cron scheduler (``manage.py rqcron dashboard.cron``).

The scheduler only calls :func:`start`, which records a visible job run and queues it
unless one is still active, so several scheduler processes never pile up copies.
"""

from __future__ import annotations

from django.conf import settings

from dashboard import jobrunner

# job function path -> (queue, settings attribute holding the interval in seconds; 0 = off)
PERIODIC_JOBS: dict[str, tuple[str, str]] = {
    "models_registry.jobs.sync_model_store": ("default", "MODEL_SYNC_INTERVAL"),
    "builds.jobs.poll_repositories": ("default", "GIT_POLL_INTERVAL"),
    "builds.jobs.sync_image_tags": ("default", "TAG_SYNC_INTERVAL"),
    "builds.jobs.recover_stalled_builds": ("default", "STALL_CHECK_INTERVAL"),
    "releases.jobs.tick": ("deploys", "RELEASE_TICK_INTERVAL"),
    "releases.jobs.check_drift": ("default", "DRIFT_CHECK_INTERVAL"),
}


def intervals() -> dict[str, int]:
    return {name: getattr(settings, attr) for name, (_, attr) in PERIODIC_JOBS.items()}


def start(name: str) -> int | None:
    queue, _ = PERIODIC_JOBS[name]
    run = jobrunner.enqueue_once(name, queue=queue)
    return run.pk if run else None
