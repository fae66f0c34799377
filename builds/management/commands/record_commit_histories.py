"""``manage.py record_commit_histories`` - queue recording the commit lists builds lack."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from builds import jobs
from core import jobrunner


class Command(BaseCommand):
    help = (
        "Queue a job that records the commit list of succeeded builds without one (built before "
        "lists were kept, or whose repository could not be read), so release pages list their commits."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        run = jobrunner.enqueue_once(jobs.record_missing_histories, actor="command:record_commit_histories")
        if run is None:
            self.stdout.write("A recording job is already queued or running.")
        else:
            self.stdout.write(f"Queued job run #{run.pk}; a worker records the lists.")
