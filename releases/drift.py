"""Detect changes made outside the product: what runs differs from what the product set there."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core import audit
from integrations.deploy.base import RunningState
from integrations.errors import IntegrationError
from releases.deployer import last_set_on_target
from releases.models import Environment
from releases.targets import target_for

ACTOR = "job:check_drift"


def check(environment: Environment) -> str:
    """Compare the target with the releases whose change the product last applied there (the
    same rule the next deploy's guard uses, so drift shown means the next release is refused)."""
    chain = last_set_on_target(environment.pk)
    if not chain or environment.active_release_id:
        return ""  # nothing deployed yet, or a rollout is changing it right now
    try:
        running = target_for(environment).current()
    except IntegrationError as exc:
        return f"{environment}: could not read what runs: {exc}"
    expected = [release.image.reference for release in chain]
    last = chain[0]
    drift = ""
    _observe_health(environment, running)
    if running is None:
        drift = f"nothing runs, though release #{last.pk} set {last.image.reference}"
    elif not running.matches(expected):
        drift = f"runs {running.image}, but the product last set {' or '.join(expected)} (release #{last.pk})"
    return _record(environment, drift)


def _observe_health(environment: Environment, running: RunningState | None) -> None:
    ready = running.ready_replicas if running else 0
    desired = running.replicas if running else 0
    Environment.objects.filter(pk=environment.pk).update(ready_replicas=ready, desired_replicas=desired)


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
