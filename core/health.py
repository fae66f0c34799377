"""Liveness and readiness probes (JSON, no login).

``/healthz`` (liveness) only proves the process serves requests: it touches nothing else, so a
slow database or model store can never get a healthy pod restarted.

``/readyz`` (readiness) answers within ``CHECK_DEADLINE`` seconds whatever the checked systems
do. Each check runs in a background thread of its own, at most one per check and process: a
check that hangs (a store that accepts connections and never answers) keeps its one thread
until its client's own timeouts end it, later probes report it as "no answer" instead of
starting another, so probes never pile up on the web server's threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import django_rq
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from core import adapters

CHECK_DEADLINE = 1.5  # seconds; the kubelet's readiness timeout is 5


def _check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()  # the check's thread owns this connection; leave nothing open


def _check_redis() -> None:
    django_rq.get_connection("default").ping()


def _check_model_store() -> None:
    adapters.model_store().check()


@dataclass
class _Run:
    started: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)
    result: dict[str, object] = field(default_factory=dict)


class Check:
    """One readiness check, run in the background; a run still going on is never started twice."""

    def __init__(self, name: str, func: Callable[[], None]) -> None:
        self.name, self.func = name, func
        self._lock = threading.Lock()
        self._run: _Run | None = None

    def start(self) -> None:
        with self._lock:
            if self._run is not None and not self._run.done.is_set():
                return  # the last run has not answered yet: report it, do not add another
            self._run = run = _Run()
        threading.Thread(target=self._execute, args=(run,), name=f"readyz-{self.name}", daemon=True).start()

    def _execute(self, run: _Run) -> None:
        try:
            self.func()
            run.result = {"ok": True}
        except Exception as exc:  # any failure means "not ready"; the reason is reported
            run.result = {"ok": False, "error": str(exc) or type(exc).__name__}
        run.result["ms"] = round((time.monotonic() - run.started) * 1000, 1)
        run.done.set()

    def result(self, deadline: float) -> dict[str, object]:
        """The current run's outcome, waiting until ``deadline`` (a ``time.monotonic()`` value) at most."""
        with self._lock:
            run = self._run
        if run is None:
            return {"ok": False, "error": "not checked yet"}
        if run.done.wait(max(deadline - time.monotonic(), 0)):
            return dict(run.result)
        waited = time.monotonic() - run.started
        return {"ok": False, "error": f"no answer for {waited:.1f} s", "ms": round(waited * 1000, 1)}

    def forget(self) -> None:
        """Start afresh at the next probe, even if a run still hangs (after a settings change, in tests)."""
        with self._lock:
            self._run = None


CHECKS: dict[str, Check] = {
    "database": Check("database", _check_database),
    "redis": Check("redis", _check_redis),
    "model_store": Check("model_store", _check_model_store),
}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    deadline = time.monotonic() + CHECK_DEADLINE
    for check in CHECKS.values():
        check.start()  # all at once: one slow system does not delay the others' answers
    results = {name: check.result(deadline) for name, check in CHECKS.items()}
    ready = all(r["ok"] for r in results.values())
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": results}, status=200 if ready else 503
    )
