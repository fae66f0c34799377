"""What ran where and when: the run periods of releases, read by instant or by model version."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from core.errors import ServiceError
from models_registry.models import ModelVersion
from releases.models import Environment, RunPeriod


def periods() -> QuerySet[RunPeriod]:
    return RunPeriod.objects.select_related(
        "release__model_version__model", "release__image", "environment__application"
    )


def timeline(environment: Environment) -> QuerySet[RunPeriod]:
    """Every release that ran in ``environment``, newest first (page it: it only grows)."""
    return periods().filter(environment=environment)


def running_at(environment: Environment, instant: datetime) -> RunPeriod | None:
    """The release that was running in ``environment`` at ``instant``, if any had started."""
    return (
        periods()
        .filter(environment=environment, started_at__lte=instant)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=instant))
        .order_by("-started_at", "-id")
        .first()
    )


def deployments_of(version: ModelVersion) -> QuerySet[RunPeriod]:
    """Where and when a model version ran, newest first."""
    return periods().filter(release__model_version=version)


def parse_instant(text: str, *, name: str = "at", now: datetime | None = None) -> datetime:
    """An ISO 8601 instant from a query string; without an offset it is UTC. Not one, or one in
    the future (nothing has run there yet), is a ServiceError naming the parameter."""
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
    return instant
