"""Request metrics for ``/metrics``: how many requests each view answered, and how fast.

Counted in the web process that served the request. Under gunicorn every worker process has
its own counts; with ``PROMETHEUS_MULTIPROC_DIR`` set (``config/gunicorn_conf.py`` sets it)
prometheus-client keeps them in files there and ``/metrics`` adds up all of a pod's workers.
The product's own figures (releases, builds, queues, jobs) are read from the database and
Redis at scrape time instead: see ``overview/metrics.py``.

Labels stay few: the route's name (never the path, which holds ids), the method (unusual ones
as ``other``) and the status.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Histogram

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"  # no route: a 404 for an unknown path, or a redirect to add a slash

REQUESTS = Counter(
    "dashboard_http_requests",
    "HTTP requests answered, by route name, method and status.",
    ["view", "method", "status"],
)
LATENCY = Histogram(
    "dashboard_http_request_duration_seconds",
    "Time from the request reaching Django to the response leaving it, by route name and method.",
    ["view", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0),
)


def view_label(request: HttpRequest) -> str:
    match = request.resolver_match
    if match is None:
        return UNMATCHED
    return match.view_name or match.route or UNMATCHED


class RequestMetricsMiddleware:
    """Counts and times every request; placed first, so it times the whole middleware stack."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        view = view_label(request)
        method = request.method if request.method in METHODS else "other"
        LATENCY.labels(view, method).observe(time.perf_counter() - started)
        REQUESTS.labels(view, method, str(response.status_code)).inc()
        return response
