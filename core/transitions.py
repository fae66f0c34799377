"""Moving an object along its state machine: checked, under a row lock, and audited.

Models that use it have a ``state`` field, ``can_become(state)`` (their ``TRANSITIONS``
table) and ``audit_state()``; the audit action is ``<prefix>.<new state>``.
"""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from core import audit
from core.audit import Actor


def move(obj: models.Model, to: str, *, action_prefix: str, actor: Actor, **fields: Any) -> bool:
    """Set ``obj``'s state to ``to`` (plus ``fields``) if its current state allows it.

    Returns False, changing nothing, when another worker or person moved it on first.
    ``obj`` is refreshed either way.
    """
    manager = type(obj)._default_manager
    with transaction.atomic():
        current = manager.select_for_update().get(pk=obj.pk)
        if not current.can_become(to):  # type: ignore[attr-defined]  # every model moved here has it
            moved = False
        else:
            before = current.audit_state()  # type: ignore[attr-defined]  # (likewise)
            manager.filter(pk=obj.pk).update(state=to, **fields)
            current.refresh_from_db()
            after = current.audit_state()  # type: ignore[attr-defined]  # (likewise)
            audit.record(f"{action_prefix}.{to}", current, actor=actor, before=before, after=after)
            moved = True
    obj.refresh_from_db()
    return moved
