"""DORA metrics of an application's environment, from the product's own records.

Definitions (each figure comes with what it was computed from):

* **deployment**: a release (not a rollback) that succeeded, counted on the day it did;
* **deployment frequency**: deployments per day over the period;
* **lead time for changes**: from the earliest change a deployment brought that was not yet in
  that environment - a commit (its author date, from the build's recorded commit list) or a
  model version (its registration) - to the deployment's success; the median. **Model lead
  time**: from a model version's registration to its first success there; the median;
* **change failure rate**: releases that failed or were rolled back, divided by all that
  finished (succeeded, failed, rolled back);
* **time to restore**: from a release failing to the next release that succeeded in the same
  environment; the median.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Min, QuerySet
from django.utils import timezone

from builds.models import BuildCommit
from core.errors import NotFoundError, ServiceError
from releases.models import Environment, Release, RunPeriod

MAX_DAYS = 365
DEFAULT_DAYS = 30

FINISHED = (Release.State.SUCCEEDED, Release.State.FAILED, Release.State.ROLLED_BACK)
FAILED = (Release.State.FAILED, Release.State.ROLLED_BACK)


@dataclass
class Figure:
    value: float | None
    numerator: float | int
    denominator: float | int
    unit: str


@dataclass
class Dora:
    environment: Environment
    since: datetime
    until: datetime
    deployment_frequency: Figure
    lead_time_hours: Figure
    model_lead_time_hours: Figure
    change_failure_rate: Figure
    time_to_restore_hours: Figure
    daily: list[dict[str, object]] = field(default_factory=list)


def compute(environment: Environment, *, days: int, now: datetime | None = None) -> Dora:
    until = now or timezone.now()
    since = until - timedelta(days=days)
    finished = list(
        Release.objects.filter(environment=environment, kind=Release.Kind.DEPLOY, finished_at__gte=since)
        .filter(finished_at__lt=until, state__in=FINISHED)
        .select_related("model_version", "previous_release")
        .order_by("finished_at", "pk")
    )
    successes = _successes(environment, since, until)
    leads, model_leads = _lead_times(environment, successes)
    failures = [r for r in finished if r.state in FAILED]
    failed_at = [r.finished_at for r in failures if r.finished_at is not None]  # all: filtered on it
    restores = _restore_times(environment, failed_at, until)
    return Dora(
        environment=environment,
        since=since,
        until=until,
        deployment_frequency=Figure(
            round(len(successes) / days, 3), len(successes), days, "deployments per day"
        ),
        lead_time_hours=_median(leads, "hours, median"),
        model_lead_time_hours=_median(model_leads, "hours, median"),
        change_failure_rate=Figure(
            round(len(failures) / len(finished), 3) if finished else None,
            len(failures),
            len(finished),
            "ratio",
        ),
        time_to_restore_hours=_median(restores, "hours, median"),
        daily=_daily(successes, failed_at, since, days),
    )


def _successes(environment: Environment, since: datetime, until: datetime) -> list[RunPeriod]:
    """Deployments: the moments a deploy release became what runs (rollbacks restore, they are not counted).

    The lead times read each one's model version and the release before it (its commit): both
    are joined here, not fetched one deployment at a time.
    """
    periods: QuerySet[RunPeriod] = RunPeriod.objects.filter(
        environment=environment,
        started_at__gte=since,
        started_at__lt=until,
        release__kind=Release.Kind.DEPLOY,
    ).select_related("release__model_version", "release__previous_release")
    return list(periods.order_by("started_at", "pk"))


def _lead_times(environment: Environment, successes: list[RunPeriod]) -> tuple[list[float], list[float]]:
    """Hours from the earliest new change to the deployment, and from a new model version's registration."""
    builds = [p.release.build_id for p in successes if p.release.build_id]
    commits: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    for build_id, sha, authored in (
        BuildCommit.objects.filter(build_id__in=builds)
        .order_by("build_id", "position")
        .values_list("build_id", "sha", "authored_at")
    ):
        commits[build_id].append((sha, authored))
    first_seen = dict(
        RunPeriod.objects.filter(environment=environment)
        .values("release__model_version_id")
        .annotate(first=Min("started_at"))
        .values_list("release__model_version_id", "first")
    )
    leads, model_leads = [], []
    for period in successes:
        release = period.release
        previous_commit = _previous_commit(release)
        new = [authored for sha, authored in _until(commits.get(release.build_id or 0, []), previous_commit)]
        version = release.model_version
        starts = list(new)
        if version is not None and first_seen.get(version.pk) == period.started_at:
            starts.append(version.created_at)
            model_leads.append(_hours(period.started_at - version.created_at))
        if starts:
            leads.append(_hours(period.started_at - min(starts)))
    return leads, model_leads


def _previous_commit(release: Release) -> str:
    previous = release.previous_release
    return previous.commit if previous is not None else ""


def _until(history: list[tuple[str, datetime]], stop: str) -> list[tuple[str, datetime]]:
    """The commits of a recorded history (newest first) down to, not including, ``stop``."""
    taken = []
    for sha, authored in history:
        if sha == stop:
            break
        taken.append((sha, authored))
    return taken


def _restore_times(environment: Environment, failed_at: list[datetime], until: datetime) -> list[float]:
    if not failed_at:
        return []
    starts = list(
        RunPeriod.objects.filter(environment=environment, started_at__gte=failed_at[0])
        .filter(started_at__lt=until)
        .order_by("started_at")
        .values_list("started_at", flat=True)
    )
    restored = []
    for failure in failed_at:
        after = next((start for start in starts if start > failure), None)
        if after is not None:
            restored.append(_hours(after - failure))
    return restored


def _daily(
    successes: list[RunPeriod], failed_at: list[datetime], since: datetime, days: int
) -> list[dict[str, object]]:
    counts: dict[date, list[int]] = {(since + timedelta(days=i)).date(): [0, 0] for i in range(days + 1)}
    for period in successes:
        counts.setdefault(period.started_at.date(), [0, 0])[0] += 1
    for failure in failed_at:
        counts.setdefault(failure.date(), [0, 0])[1] += 1
    return [
        {"day": day.isoformat(), "deployments": d, "failures": f} for day, (d, f) in sorted(counts.items())
    ]


def _median(values: list[float], unit: str) -> Figure:
    return Figure(round(statistics.median(values), 2) if values else None, len(values), len(values), unit)


def _hours(delta: timedelta) -> float:
    return max(delta.total_seconds(), 0) / 3600


def select(application: str, environment: str, days: str | None) -> tuple[list[Environment], int]:
    """The environments and period a request names (application required, environment optional),
    or a ServiceError / NotFoundError saying what is wrong."""
    if not application:
        raise ServiceError("application is required: DORA figures are per application.", field="application")
    try:
        period = int(days) if days not in (None, "") else DEFAULT_DAYS
    except ValueError:
        period = 0
    if not 1 <= period <= MAX_DAYS:
        raise ServiceError(f"days must be a whole number from 1 to {MAX_DAYS}.", field="days")
    found = Environment.objects.select_related("application").filter(application__name=application)
    if environment:
        found = found.filter(name=environment)
    chosen = list(found.order_by("order", "name"))
    if not chosen:
        what = f"{application}/{environment}" if environment else f"application {application!r}"
        raise NotFoundError(f"No environments for {what}.")
    return chosen, period
