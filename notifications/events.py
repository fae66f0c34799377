"""From an audit event to a notice: which notification event it is, and what to say about it.

The apps never call notifications: every change they make is audited (``core.audit.record``),
and :data:`ACTIONS` says which audit actions are worth a message. Each is described from the
rows as they are once the change committed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings

from builds.models import Application, Build
from core.models import AuditEvent
from models_registry.models import ModelVersion
from notifications.models import Event
from releases.models import Environment, Release

# audit action -> notification event (actions: releases/services, core/transitions.py
# "<prefix>.<state>", releases/drift.py, builds/services.py, models_registry/services.py)
ACTIONS = {
    "release.request": Event.APPROVAL_NEEDED,
    "release.requested": Event.APPROVAL_NEEDED,  # back to requested: the candidate changed, approvals lapsed
    "release.succeeded": Event.RELEASE_SUCCEEDED,
    "release.failed": Event.RELEASE_FAILED,
    "release.rolled_back": Event.RELEASE_ROLLED_BACK,
    "environment.drift_detected": Event.DRIFT_DETECTED,
    "build.failed": Event.BUILD_FAILED,
    "model_version.register": Event.MODEL_VERSION_REGISTERED,
}


@dataclass(frozen=True)
class Notice:
    """What a message says, whatever the channel's kind."""

    event: str
    title: str
    summary: str
    url: str
    application: str | None = None
    environment: str | None = None
    release_id: int | None = None
    build_id: int | None = None
    model_version: str | None = None
    state: str | None = None
    reason: str | None = None
    # for channel filters, not sent: every application concerned, and the environment's id
    applications: tuple[str, ...] = field(default=(), compare=False)
    environment_id: int | None = field(default=None, compare=False)

    def fields(self) -> dict[str, Any]:
        data = asdict(self)
        del data["applications"], data["environment_id"]
        return data


def link(path: str) -> str:
    return settings.DASHBOARD_URL.rstrip("/") + path


def describe(event: AuditEvent) -> Notice | None:
    """The notice for an audit event, or None when it is not one to send."""
    kind = ACTIONS.get(event.action)
    if kind is None:
        return None
    return DESCRIBERS[kind](kind, int(event.object_id), event)


def _release(kind: str, pk: int, event: AuditEvent) -> Notice | None:
    release = (
        Release.objects.select_related("environment__application", "model_version__model")
        .filter(pk=pk)
        .first()
    )
    if release is None:
        return None
    if kind == Event.APPROVAL_NEEDED and release.state != Release.State.REQUESTED:
        return None  # approved at once (no approvals required), or already moved on
    environment = release.environment
    application = environment.application.name
    what = f"Release #{release.pk} of {application} to {environment.name}"
    reason = release.state_reason or None
    summaries: dict[str, str] = {
        Event.APPROVAL_NEEDED: f"{what} needs approval ({reason or 'waiting for approvals'}).",
        Event.RELEASE_SUCCEEDED: f"{what} succeeded.",
        Event.RELEASE_FAILED: f"{what} failed: {reason or 'no reason recorded'}.",
        Event.RELEASE_ROLLED_BACK: f"{what} was rolled back: {reason or 'no reason recorded'}.",
    }
    summary = summaries[kind]
    return Notice(
        event=kind,
        title=Event(kind).label,
        summary=summary,
        url=link(release.get_absolute_url()),
        application=application,
        environment=environment.name,
        release_id=release.pk,
        build_id=release.build_id,
        model_version=str(release.model_version) if release.model_version else None,
        state=release.state,
        reason=reason,
        applications=(application,),
        environment_id=environment.pk,
    )


def _drift(kind: str, pk: int, event: AuditEvent) -> Notice | None:
    environment = Environment.objects.select_related("application").filter(pk=pk).first()
    if environment is None:
        return None
    drift = (event.after or {}).get("drift") or environment.drift
    return Notice(
        event=kind,
        title=Event(kind).label,
        summary=f"{environment} drifted: {drift}.",
        url=link(environment.get_absolute_url()),
        application=environment.application.name,
        environment=environment.name,
        reason=drift,
        applications=(environment.application.name,),
        environment_id=environment.pk,
    )


def _build(kind: str, pk: int, event: AuditEvent) -> Notice | None:
    build = Build.objects.select_related("application", "model_version__model").filter(pk=pk).first()
    if build is None:
        return None
    application = build.application.name
    reason = build.failure_reason or None
    return Notice(
        event=kind,
        title=Event(kind).label,
        summary=f"Build #{build.pk} of {application} failed: {reason or 'no reason recorded'}.",
        url=link(build.get_absolute_url()),
        application=application,
        build_id=build.pk,
        model_version=str(build.model_version),
        state=build.state,
        reason=reason,
        applications=(application,),
    )


def _model_version(kind: str, pk: int, event: AuditEvent) -> Notice | None:
    version = ModelVersion.objects.select_related("model").filter(pk=pk).first()
    if version is None:
        return None
    # A version belongs to no application; those built with its model are concerned.
    following = tuple(Application.objects.filter(model=version.model).values_list("name", flat=True))
    return Notice(
        event=kind,
        title=Event(kind).label,
        summary=f"{version} was registered by {event.actor_name} ({version.state}).",
        url=link(version.get_absolute_url()),
        model_version=str(version),
        state=version.state,
        reason=version.state_reason or None,
        applications=following,
    )


DESCRIBERS: dict[str, Callable[[str, int, AuditEvent], Notice | None]] = {
    Event.APPROVAL_NEEDED: _release,
    Event.RELEASE_SUCCEEDED: _release,
    Event.RELEASE_FAILED: _release,
    Event.RELEASE_ROLLED_BACK: _release,
    Event.DRIFT_DETECTED: _drift,
    Event.BUILD_FAILED: _build,
    Event.MODEL_VERSION_REGISTERED: _model_version,
}
