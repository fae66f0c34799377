"""Recurring background work, fired by the scheduler process (``manage.py runscheduler``).

Each periodic job is started at most once per interval across every scheduler replica (a Redis
key that expires after the interval is taken with SET NX), and only when no run of it is still
active, so several schedulers never pile up copies.
"""

from __future__ import annotations

from django.conf import settings
from redis import Redis

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
SLOT_KEY = "dashboard:periodic:{name}"


def intervals() -> dict[str, int]:
    return {name: getattr(settings, attr) for name, (_, attr) in PERIODIC_JOBS.items()}


def start(name: str) -> int | None:
    """Queue one run of a periodic job unless one is still active; the run's id, or None."""
    queue, _ = PERIODIC_JOBS[name]
    run = jobrunner.enqueue_once(name, queue=queue)
    return run.pk if run else None


def start_due(redis: Redis) -> dict[str, int | None]:
    """Start every periodic job whose interval has passed since any scheduler last took it."""
    started = {}
    for name, seconds in intervals().items():
        if seconds > 0 and redis.set(SLOT_KEY.format(name=name), "1", nx=True, ex=seconds):
            started[name] = start(name)
    return started
