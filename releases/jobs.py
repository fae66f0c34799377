"""Background jobs of releases (run by django-rq workers through core.jobrunner)."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from releases import deployer, drift, scheduler, services
from releases.models import Environment, Release


def process_environment(environment_id: int) -> list[str]:
    return deployer.process_environment(environment_id)


def tick() -> dict[str, object]:
    """Every few seconds: fire schedules, queue scheduled releases whose time came, resume work."""
    now = timezone.now()
    notes = scheduler.evaluate_all(now)
    for release in Release.objects.filter(
        state=Release.State.SCHEDULED, scheduled_for__lte=now, schedule__isnull=True
    ):
        services.enqueue(release, actor="job:release_tick", reason="its scheduled time came")
    waiting = Environment.objects.filter(
        Q(releases__state=Release.State.QUEUED, active_release__isnull=True)
        | Q(active_release__state=Release.State.DEPLOYING, active_release__lease_expires_at__lt=now)
    ).distinct()
    for environment in waiting:
        services.kick(environment)
    return {"schedules": notes, "kicked": [str(e) for e in waiting]}


def check_drift() -> list[str]:
    environments = (
        Environment.objects.filter(releases__applied_at__isnull=False)
        .distinct()
        .select_related("application")
    )
    return [note for environment in environments if (note := drift.check(environment))]
