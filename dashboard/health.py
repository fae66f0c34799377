"""Liveness and readiness probes (JSON, no login)."""

from __future__ import annotations

import time
from collections.abc import Callable

import django_rq
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from models_registry.services import get_store


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    django_rq.get_connection("default").ping()


def _check_model_store() -> None:
    get_store().check()


CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "redis": _check_redis,
    "model_store": _check_model_store,
}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
        except Exception as exc:  # any failure means "not ready"; the reason is reported
            results[name] = {"ok": False, "error": str(exc) or type(exc).__name__}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.monotonic() - started) * 1000, 1)
    ready = all(r["ok"] for r in results.values())
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": results}, status=200 if ready else 503
    )
