"""The release state machine: every state change goes through :func:`transition`, which checks
``Release.TRANSITIONS``; queued releases wake their environment's deploy job."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from core import jobrunner, transitions
from core.audit import Actor
from core.errors import NotFoundError
from releases import freeze
from releases.models import Environment, Release


def transition(release: Release, to: str, *, actor: Actor, reason: str = "", **fields: Any) -> bool:
    """Move ``release`` to ``to`` when its current state allows it; audited. False if it had moved on."""
    now = timezone.now()
    stamps: dict[str, str] = {Release.State.QUEUED: "queued_at", Release.State.DEPLOYING: "started_at"}
    if to in stamps:
        fields.setdefault(stamps[to], now)
    if to in (Release.State.SUCCEEDED, Release.State.FAILED, *Release.FINAL):
        fields.setdefault("finished_at", now)
    return transitions.move(release, to, action_prefix="release", actor=actor, state_reason=reason, **fields)


def enqueue(release: Release, *, actor: Actor, reason: str = "") -> None:
    """Queue the release for its environment; one deployment at a time, in order."""
    if transition(release, Release.State.QUEUED, actor=actor, reason=reason or "waiting for a deploy worker"):
        kick(release.environment)


def kick(environment: Environment) -> None:
    # A run still deploying may already have looked for queued releases: only a waiting run
    # makes another one unnecessary (two runs are safe: the environment's lock serialises them).
    jobrunner.enqueue_once(
        "releases.jobs.process_environment",
        environment.pk,
        waiting_only=True,
        queue="deploys",
        related=environment,
    )


def get_release(pk: int) -> Release:
    release = (
        Release.objects.select_related(
            "environment__application", "image", "model_version__model", "requested_by"
        )
        .filter(pk=pk)
        .first()
    )
    if release is None:
        raise NotFoundError(f"No release #{pk}.")
    return release


def active_freeze(environment: Environment, when: datetime | None = None) -> Any:
    return freeze.active(environment, when or timezone.now())
