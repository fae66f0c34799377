"""The heartbeat thread's lines carry the context of the job that started it."""

from __future__ import annotations

import logging
import threading

import pytest
from django.db import DatabaseError

from core.heartbeat import Heartbeat
from core.logcontext import ContextFilter, bind


@pytest.mark.django_db(transaction=True)
def test_a_missed_beat_is_logged_with_the_job_that_started_the_heartbeat(caplog):
    missed = threading.Event()

    def beat() -> None:
        missed.set()
        raise DatabaseError("connection lost")

    caplog.handler.addFilter(ContextFilter())
    with (
        caplog.at_level(logging.WARNING, logger="core.heartbeat"),
        bind(job_run_id=41, job_name="tick"),
        Heartbeat("job-41", 0.05, beat),  # made inside the job's context, as the job runner does
    ):
        assert missed.wait(5)
    lines = [r for r in caplog.records if r.getMessage() == "job-41: heartbeat not written"]
    assert lines and (lines[0].job_run_id, lines[0].job_name) == (41, "tick")
