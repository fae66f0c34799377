"""Nightly release schedules and freeze windows."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from core import audit
from core.audit import Actor
from core.errors import ServiceError
from releases import freeze, scheduling
from releases.models import Environment, FreezeWindow, Schedule


def _schedule_state(schedule: Schedule) -> dict[str, Any]:
    fields = ["cron", "timezone", "policy", "enabled", "owner_approves", "prepare_minutes", "grace_minutes"]
    return {f: getattr(schedule, f) for f in fields}


def save_schedule(schedule: Schedule, fields: dict[str, Any], *, actor: Actor) -> Schedule:
    """Create or change a schedule. A new or re-enabled schedule starts counting slots from now."""
    creating = schedule.pk is None
    before = None if creating else _schedule_state(schedule)
    was_enabled = schedule.enabled
    for name, value in fields.items():
        setattr(schedule, name, value)
    try:
        scheduling.validate_cron(schedule.cron)
        scheduling.validate_timezone(schedule.timezone)
    except ValueError as exc:
        raise ServiceError(str(exc)) from None
    if creating or (schedule.enabled and not was_enabled):
        schedule.evaluated_until = timezone.now()
    with transaction.atomic():
        schedule.save()
        action = "schedule.create" if creating else "schedule.update"
        audit.record(action, schedule, actor=actor, before=before, after=_schedule_state(schedule))
    return schedule


def delete_schedule(schedule: Schedule, *, actor: Actor) -> None:
    with transaction.atomic():
        audit.record("schedule.delete", schedule, actor=actor, before=_schedule_state(schedule))
        schedule.delete()


def add_freeze_window(environment: Environment, fields: dict[str, Any], *, actor: Actor) -> FreezeWindow:
    window = FreezeWindow(environment=environment, created_by=audit.user_of(actor), **fields)
    try:
        freeze.as_window(window)  # validates one-off vs recurring, times, cron, time zone
    except ValueError as exc:
        raise ServiceError(f"Invalid freeze window: {exc}") from None
    with transaction.atomic():
        window.save()
        after = {
            "reason": window.reason,
            "start": str(window.start),
            "end": str(window.end),
            "cron": window.cron,
        }
        audit.record("freeze.create", window, actor=actor, after=after)
    return window


def delete_freeze_window(window: FreezeWindow, *, actor: Actor) -> None:
    with transaction.atomic():
        audit.record("freeze.delete", window, actor=actor, before={"reason": window.reason})
        window.delete()
