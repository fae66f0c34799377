"""Recurring background work, started by the scheduler process (``manage.py runscheduler``).

Each app declares its periodic jobs (``<app>/periodic.py``: ``JOBS``, a list of
:class:`Periodic`); core collects them through the app registry. Each is started at most
once per interval across every scheduler replica (a Redis key that expires after the interval
is taken with SET NX), and only when no run of it is still active, so several schedulers never
pile up copies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from redis import Redis

from core import jobrunner
from core.registry import declarations

SLOT_KEY = "dashboard:periodic:{name}"


@dataclass(frozen=True)
class Periodic:
    job: Callable[..., Any]
    queue: str
    interval_setting: str  # the setting holding the interval in seconds; 0 turns it off

    @property
    def name(self) -> str:
        return jobrunner.dotted(self.job)

    @property
    def interval(self) -> int:
        return int(getattr(settings, self.interval_setting))


def periodic_jobs() -> dict[str, Periodic]:
    """Every installed app's periodic jobs, by job name."""
    return {job.name: job for declared in declarations("periodic", "JOBS") for job in declared}


def start(name: str) -> int | None:
    """Queue one run of a periodic job unless one is still active; the run's id, or None."""
    periodic = periodic_jobs()[name]
    run = jobrunner.enqueue_once(periodic.job, queue=periodic.queue)
    return run.pk if run else None


def start_due(redis: Redis) -> dict[str, int | None]:
    """Start every periodic job whose interval has passed since any scheduler last took it."""
    started = {}
    for name, periodic in periodic_jobs().items():
        seconds = periodic.interval
        if seconds > 0 and redis.set(SLOT_KEY.format(name=name), "1", nx=True, ex=seconds):
            started[name] = start(name)
    return started
