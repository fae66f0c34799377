"""``/metrics``: Prometheus' text format, for a scraper holding ``METRICS_TOKEN``.

Without ``METRICS_TOKEN`` the endpoint does not exist (404); with it, a request must send
``Authorization: Bearer <token>`` (401 otherwise, compared in constant time). The token is the
scraper's, not a person's: no session, no role.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess

from overview.metrics import ProductCollector

# The classic text format, which every Prometheus reads (2.x included); all our names fit it.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _bearer(request: HttpRequest) -> str:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def _process_metrics() -> bytes:
    """The web processes' request metrics: all of this pod's gunicorn workers in multiprocess
    mode, else this process's own (with its CPU and memory)."""
    if not settings.PROMETHEUS_MULTIPROC_DIR:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    return generate_latest(registry)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("metrics are off: METRICS_TOKEN is not set")
    if not hmac.compare_digest(_bearer(request).encode(), token.encode()):
        return HttpResponse(
            "A valid bearer token is needed.\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    product = CollectorRegistry(auto_describe=False)
    product.register(ProductCollector())
    return HttpResponse(_process_metrics() + generate_latest(product), content_type=CONTENT_TYPE)
