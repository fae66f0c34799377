"""Writing the audit trail. Service functions call :func:`record` inside their transaction.

Once that transaction commits, :data:`recorded` is sent with the event (``event=``), so a part of
the product can react to what happened (notifications do) without the apps knowing it exists.
A receiver that fails is logged and never undoes or breaks the change: it is already committed.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import models, transaction
from django.dispatch import Signal

from core.middleware import current_request_id
from core.models import AuditEvent

Actor = AbstractBaseUser | AnonymousUser | str | None

# Sent after the transaction that wrote an audit event commits; kwargs: event (the AuditEvent).
recorded = Signal()


def user_of(actor: Actor) -> User | None:
    """The user behind an actor, for "created by" columns; None for system actors and anonymous."""
    return actor if isinstance(actor, User) and actor.is_authenticated else None


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
    event = AuditEvent.objects.create(
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        before=before,
        after=after,
        request_id=current_request_id.get(),
        **actor_fields(actor),
    )
    if recorded.has_listeners(AuditEvent):
        transaction.on_commit(lambda: recorded.send(sender=AuditEvent, event=event), robust=True)
    return event


SECRET_CHANGED = "changed"


def changes(
    before: dict[str, Any], after: dict[str, Any], secrets: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, before and after; secrets as "changed", never their value."""
    names = [name for name in after if before.get(name) != after[name]]
    old = {name: SECRET_CHANGED if name in secrets else before.get(name) for name in names}
    new = {name: SECRET_CHANGED if name in secrets else after[name] for name in names}
    return old, new


def without_secrets(state: dict[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    """A state to record whole (on creation): a secret only says whether it is set."""
    return {name: ("set" if value else "") if name in secrets else value for name, value in state.items()}


def record_update(
    action: str,
    obj: models.Model,
    *,
    actor: Actor,
    before: dict[str, Any],
    after: dict[str, Any],
    secrets: tuple[str, ...] = (),
) -> AuditEvent | None:
    """Record the fields an update changed (every one of them); nothing when none changed."""
    old, new = changes(before, after, secrets)
    if not new:
        return None
    return record(action, obj, actor=actor, before=old, after=new)
