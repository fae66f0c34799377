"""Audit events become notifications: receivers of ``core.audit.recorded`` (sent after commit)."""

from __future__ import annotations

from typing import Any

from core.models import AuditEvent
from notifications import events, services


def on_audit_event(sender: Any, event: AuditEvent, **kwargs: Any) -> None:
    kind = events.ACTIONS.get(event.action)
    if kind is not None:
        services.fan_out(kind, lambda: events.describe(event))
