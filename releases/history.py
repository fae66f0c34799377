"""What ran where and when: the run periods of releases, read by instant or by model version."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from core.errors import ServiceError
from models_registry.models import ModelVersion
from releases.models import Environment, RunPeriod

# Nothing ran before this; an earlier instant (year 1 with an offset east of UTC, say) would not
# even convert to UTC or to the reader's time zone, and the page showing it would fail.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


def periods() -> QuerySet[RunPeriod]:
    return RunPeriod.objects.select_related(
        "release__model_version__model", "release__image", "environment__application"
    )


def timeline(environment: Environment) -> QuerySet[RunPeriod]:
    """Every release that ran in ``environment``, newest first (page it: it only grows)."""
    return periods().filter(environment=environment)


def running_at(environment: Environment, instant: datetime) -> RunPeriod | None:
    """The release that was running in ``environment`` at ``instant``, if any had started."""
    return running_at_each([environment], instant).get(environment.pk)


def _newest_per_environment(queryset: QuerySet[RunPeriod], limit: int) -> QuerySet[RunPeriod]:
    """At most ``limit`` periods of each environment, newest first: one query for all of them."""
    newest = Window(
        RowNumber(), partition_by=[F("environment_id")], order_by=[F("started_at").desc(), F("id").desc()]
    )
    return (
        queryset.annotate(newest=newest)
        .filter(newest__lte=limit)
        .order_by("environment_id", "-started_at", "-id")
    )


def overlapping(
    environments: list[Environment], since: datetime, until: datetime, *, limit: int
) -> dict[int, list[RunPeriod]]:
    """By environment id, the newest ``limit`` periods of each environment that ran between
    ``since`` and ``until``, newest first (one query, whatever the number of environments)."""
    found: dict[int, list[RunPeriod]] = {env.pk: [] for env in environments}
    ran = (
        periods()
        .filter(environment__in=environments, started_at__lt=until)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=since))
    )
    for period in _newest_per_environment(ran, limit):
        found[period.environment_id].append(period)
    return found


def running_at_each(environments: list[Environment], instant: datetime) -> dict[int, RunPeriod]:
    """By environment id, what ran in each of ``environments`` at ``instant`` (``running_at`` for
    many environments in one query); an environment where nothing had run yet is left out."""
    ran = (
        periods()
        .filter(environment__in=environments, started_at__lte=instant)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=instant))
    )
    return {period.environment_id: period for period in _newest_per_environment(ran, 1)}


def deployments_of(version: ModelVersion) -> QuerySet[RunPeriod]:
    """Where and when a model version ran, newest first."""
    return periods().filter(release__model_version=version)


def parse_instant(text: str, *, name: str = "at", now: datetime | None = None) -> datetime:
    """An ISO 8601 instant from a query string; without an offset it is UTC. Not one, one in the
    future (nothing has run there yet) or one before 1970 is a ServiceError naming the parameter."""
    try:
        instant = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ServiceError(
            f"{name} must be an ISO 8601 date-time, e.g. 2026-11-24T02:13:00Z; got {text[:40]!r}.", field=name
        ) from None
    if timezone.is_naive(instant):
        instant = instant.replace(tzinfo=UTC)
    if instant > (now or timezone.now()):
        raise ServiceError(f"{name} is in the future: history only answers for the past.", field=name)
    try:
        too_early = instant.astimezone(UTC) < EARLIEST
    except OverflowError:
        too_early = True
    if too_early:
        raise ServiceError(f"{name} is before 1970: nothing ran then.", field=name)
    return instant


def instant_param(params: Mapping[str, Any], name: str) -> datetime | None:
    """The instant query parameter ``name`` holds (see ``parse_instant``), or None when it is empty."""
    text = params.get(name) or ""
    return parse_instant(text, name=name) if text else None
