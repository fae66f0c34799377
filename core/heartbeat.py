"""A thread that proves a process is still working on something, by writing a timestamp.

Job runs and deployments each keep a heartbeat (or lease) in their row while a worker works on
them. When the worker dies, however it dies, the beats stop; whoever looks next (the scheduler,
the release tick) sees a stale timestamp within seconds and hands the work to another worker.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from types import TracebackType

from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)


class Heartbeat(threading.Thread):
    """Calls ``beat`` every ``interval`` seconds until stopped (on its own database connection).

    Use it as a context manager around the work. The first beat comes after one interval:
    the caller writes the first timestamp when it claims the work.
    """

    def __init__(self, name: str, interval: float, beat: Callable[[], object]) -> None:
        super().__init__(daemon=True, name=name)
        self.interval = interval
        self.beat = beat
        self.stopped = threading.Event()
        # The starter's context: its log lines carry the job, its object and request id too.
        self.context = contextvars.copy_context()

    def run(self) -> None:
        self.context.run(self._beat_until_stopped)

    def _beat_until_stopped(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                try:
                    self.beat()
                except DatabaseError:  # a database blip: the next beat tries again
                    logger.warning("%s: heartbeat not written", self.name, exc_info=True)
        finally:
            connection.close()

    def __enter__(self) -> Heartbeat:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stopped.set()
        self.join(timeout=self.interval + 5)
