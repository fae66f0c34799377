"""The scheduler process (``manage.py runscheduler``): keeps background work moving.

Every ``SCHEDULER_TICK_SECONDS`` it

* starts the periodic jobs that are due (:mod:`core.periodic`),
* queues retrying job runs whose delay has passed,
* retries (or fails) runs whose worker stopped beating, and
* pushes again queued runs whose Redis job vanished.

It holds no state of its own: the database and Redis do, so several replicas can run at once
and a restarted one simply carries on. Retries are timed by this loop rather than by RQ's own
scheduler, whose lock a killed worker keeps for minutes.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import django_rq
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from redis.exceptions import RedisError

from core import jobrunner, periodic

logger = logging.getLogger(__name__)
VANISHED_CHECK_SECONDS = 30.0


@dataclass
class Pass:
    """What one pass of the loop did (for logs and tests)."""

    started: dict[str, int | None] = field(default_factory=dict)
    retried: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    repushed: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.started or self.retried or self.lost or self.repushed)


def run_once(*, check_vanished: bool = True) -> Pass:
    done = Pass(lost=jobrunner.recover_lost_runs())
    done.retried = jobrunner.queue_due_retries()
    done.started = periodic.start_due(django_rq.get_connection("default"))
    if check_vanished:
        done.repushed = jobrunner.repush_vanished()
    return done


def run_forever(stop: threading.Event) -> None:
    """Loop until ``stop`` is set; a database or Redis outage is logged and waited out."""
    last_vanished_check = 0.0
    while not stop.is_set():
        close_old_connections()
        check_vanished = time.monotonic() - last_vanished_check >= VANISHED_CHECK_SECONDS
        try:
            done = run_once(check_vanished=check_vanished)
        except (DatabaseError, RedisError) as exc:
            logger.warning("scheduler: database or Redis unavailable, trying again: %s", exc)
        else:
            if check_vanished:
                last_vanished_check = time.monotonic()
            if done:
                logger.info("scheduler: %s", done)
        stop.wait(settings.SCHEDULER_TICK_SECONDS)
