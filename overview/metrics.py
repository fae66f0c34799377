"""The product's own metrics, read from the database and Redis each time ``/metrics`` is scraped.

Nothing here is counted in memory: releases, builds, rollouts and job runs are rows every web
pod reads alike, so each pod answers the same figures, they survive restarts, and workers (which
run each job in a forked process and have no HTTP port) need no metrics of their own. Totals
that only grow (``*_total``, the rollout histogram) are counts of rows that are never deleted,
so Prometheus may treat them as counters. Each scrape runs one query per metric family.

Request counts and latencies are different: they happen in the web process, see
``core/metrics.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Q, Sum
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from builds import jobs as build_jobs
from builds.models import Build
from core.jobrunner import dotted
from core.models import JobRun
from models_registry import jobs as model_jobs
from releases import jobs as release_jobs
from releases.models import Release

logger = logging.getLogger(__name__)

ROLLOUT_BUCKETS = (5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
# The recurring jobs whose last success on-call watches, by the name the metric gives them.
WATCHED_JOBS = {
    "model_store_sync": dotted(model_jobs.sync_model_store),
    "tag_sync": dotted(build_jobs.sync_image_tags),
    "drift_check": dotted(release_jobs.check_drift),
}


def releases_by_state() -> Metric:
    gauge = GaugeMetricFamily(
        "dashboard_releases",
        "Releases by application, environment and state.",
        labels=["application", "environment", "state"],
    )
    rows = (
        Release.objects.order_by()
        .values_list("environment__application__name", "environment__name", "state")
        .annotate(n=Count("id"))
    )
    for application, environment, state, n in rows:
        gauge.add_metric([application, environment, state], n)
    return gauge


def rollout_durations() -> Metric:
    """From a release's start of deploying to its end (``started_at`` to ``finished_at``, both
    set by the release's state changes; ``releases/deployer.py`` ``finish`` ends it)."""
    histogram = HistogramMetricFamily(
        "dashboard_rollout_duration_seconds",
        "How long rollouts took, from the start of deploying to success or failure, by environment.",
        labels=["application", "environment"],
    )
    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    per_bucket = {
        f"le_{i}": Count("id", filter=Q(duration__lte=timedelta(seconds=bound)))
        for i, bound in enumerate(ROLLOUT_BUCKETS)
    }
    rows = (
        Release.objects.filter(started_at__isnull=False, finished_at__isnull=False)
        .alias(duration=duration)
        .order_by()
        .values_list("environment__application__name", "environment__name")
        .annotate(total=Count("id"), seconds=Sum("duration"), **per_bucket)
    )
    for application, environment, total, seconds, *counts in rows:
        buckets = [(str(bound), n) for bound, n in zip(ROLLOUT_BUCKETS, counts, strict=True)]
        histogram.add_metric(
            [application, environment], [*buckets, ("+Inf", total)], sum_value=_seconds(seconds)
        )
    return histogram


def _seconds(value: timedelta | int | None) -> float:
    if value is None:
        return 0.0
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value / 1_000_000  # SQLite sums durations as microseconds


def builds_by_state() -> Metric:
    gauge = GaugeMetricFamily("dashboard_builds", "Builds by state.", labels=["state"])
    for state, n in Build.objects.order_by().values_list("state").annotate(n=Count("id")):
        gauge.add_metric([state], n)
    return gauge


def job_failures() -> Metric:
    counter = CounterMetricFamily(
        "dashboard_job_failures",
        "Job runs that failed (for good: out of attempts, or not retryable), by job.",
        labels=["job"],
    )
    rows = (
        JobRun.objects.filter(status=JobRun.Status.FAILED)
        .order_by()
        .values_list("name")
        .annotate(n=Count("id"))
    )
    for name, n in rows:
        counter.add_metric([name], n)
    return counter


def last_successes() -> Metric:
    gauge = GaugeMetricFamily(
        "dashboard_last_success_age_seconds",
        "Seconds since the last successful run of a recurring job; absent when it never succeeded.",
        labels=["job"],
    )
    by_name = {dotted_name: label for label, dotted_name in WATCHED_JOBS.items()}
    rows = (
        JobRun.objects.filter(status=JobRun.Status.SUCCEEDED, name__in=by_name)
        .order_by()
        .values_list("name")
        .annotate(last=Max("finished_at"))
    )
    now = timezone.now()
    for name, last in rows:
        if last is not None:
            gauge.add_metric([by_name[name]], max(0.0, (now - last).total_seconds()))
    return gauge


def queue_depths() -> Metric:
    gauge = GaugeMetricFamily(
        "dashboard_queue_depth", "Jobs waiting in each Redis queue (LLEN).", labels=["queue"]
    )
    for name in settings.JOB_QUEUES:
        gauge.add_metric([name], django_rq.get_queue(name).count)
    return gauge


class ProductCollector(Collector):
    """Every family above; one whose source fails is left out and its source reported down."""

    SOURCES = (
        ("database", (releases_by_state, rollout_durations, builds_by_state, job_failures, last_successes)),
        ("redis", (queue_depths,)),
    )

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "dashboard_metrics_source_up", "1 when the last scrape could read the source.", labels=["source"]
        )
        took = GaugeMetricFamily(
            "dashboard_metrics_scrape_seconds", "Time spent reading the product's figures."
        )
        started = time.perf_counter()
        for source, readers in self.SOURCES:
            try:
                families = [read() for read in readers]
            except Exception as exc:  # any failure: the scrape still answers, saying which source is down
                logger.warning("metrics: cannot read %s: %s", source, exc)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        took.add_metric([], time.perf_counter() - started)
        yield up
        yield took
