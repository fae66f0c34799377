"""What ran where and when: the run periods of releases, read by instant or by model version."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

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
