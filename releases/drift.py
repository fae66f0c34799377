"""Detect changes made outside the product: what runs differs from what was released."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from dashboard import audit
from integrations.errors import IntegrationError
from releases.models import Environment
from releases.targets import target_for

ACTOR = "job:check_drift"


def check(environment: Environment) -> str:
    release = environment.current_release
    if release is None or environment.active_release_id:
        return ""  # nothing released yet, or a rollout is changing it right now
    try:
        running = target_for(environment).current()
    except IntegrationError as exc:
        return f"{environment}: could not read what runs: {exc}"
    expected = release.image.reference
    drift = ""
    if running is None:
        drift = "nothing runs, though a release succeeded"
    elif running.image != expected:
        drift = f"runs {running.image}, but release #{release.pk} deployed {expected}"
    return _record(environment, drift)


def _record(environment: Environment, drift: str) -> str:
    with transaction.atomic():
        before = environment.drift
        Environment.objects.filter(pk=environment.pk).update(drift=drift, drift_checked_at=timezone.now())
        if drift != before:
            action = "environment.drift_detected" if drift else "environment.drift_cleared"
            audit.record(
                action,
                environment,
                actor=ACTOR,
                before={"drift": before or None},
                after={"drift": drift or None},
            )
    return f"{environment}: {drift or 'in sync'}"
