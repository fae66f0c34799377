"""Writing the audit trail. Service functions call :func:`record` inside their transaction."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models

from dashboard.middleware import current_request_id
from dashboard.models import AuditEvent

Actor = AbstractBaseUser | AnonymousUser | str | None


def user_of(actor: Actor) -> AbstractBaseUser | None:
    """The user behind an actor, for "created by" columns; None for system actors and anonymous."""
    return actor if isinstance(actor, AbstractBaseUser) and actor.is_authenticated else None


def actor_fields(actor: Actor) -> dict[str, Any]:
    """Split an actor into the FK and the name kept as text ("system" for background work)."""
    if isinstance(actor, str):
        return {"actor": None, "actor_name": actor}
    if actor is None or not actor.is_authenticated:
        return {"actor": None, "actor_name": "system"}
    return {"actor": actor, "actor_name": actor.get_username()}


def record(
    action: str,
    obj: models.Model,
    *,
    actor: Actor,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        before=before,
        after=after,
        request_id=current_request_id.get(),
        **actor_fields(actor),
    )
