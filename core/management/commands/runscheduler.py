"""``manage.py runscheduler``: the scheduler process (periodic jobs, retries, lost runs)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from core import scheduler


class Command(BaseCommand):
    help = "Start periodic jobs, queue due retries and recover runs whose worker died (until stopped)."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write("scheduler: running (Ctrl-C or SIGTERM stops it)")
        scheduler.run_forever(stop)
        self.stdout.write("scheduler: stopped")
