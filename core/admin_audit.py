"""Changes made in the Django admin go into the audit trail like any other change.

The admin calls ``log_addition`` / ``log_change`` / ``log_deletions`` after each add, change
(password changes included) and before each delete; :class:`AuditedAdmin` records an audit event
there, with the fields that changed before and after. The state before a change is read when the
admin loads the object. Secret fields (password hashes) appear only as "changed".
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from core import audit
from core.audit import SECRET_CHANGED as CHANGED
from core.audit import changes


def snapshot(obj: models.Model, fields: tuple[str, ...], secrets: tuple[str, ...]) -> dict[str, Any]:
    """The audited fields of ``obj`` as plain values (many-to-many as sorted names)."""
    state: dict[str, Any] = {}
    for name in (*fields, *secrets):
        value = getattr(obj, name)
        if isinstance(value, models.Manager):
            value = sorted(str(related) for related in value.all())
        elif isinstance(value, models.Model):
            value = str(value)
        state[name] = value
    return state


class AuditedAdmin(admin.ModelAdmin):
    audit_fields: ClassVar[tuple[str, ...]] = ()
    audit_secrets: ClassVar[tuple[str, ...]] = ()

    @property
    def audit_prefix(self) -> str:
        return self.model._meta.model_name or "object"

    def _state(self, obj: models.Model) -> dict[str, Any]:
        return snapshot(obj, self.audit_fields, self.audit_secrets)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            before = getattr(request, "_audit_before", {})
            before[(self.model, obj.pk)] = self._state(obj)
            request._audit_before = before  # type: ignore[attr-defined]  # our own mark on the request
        return obj

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        audit.record(
            f"{self.audit_prefix}.create",
            obj,
            actor=request.user,
            after=changes({}, self._state(obj), self.audit_secrets)[1],
        )
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        before = getattr(request, "_audit_before", {}).get((self.model, obj.pk), {})
        fresh = type(obj)._default_manager.get(pk=obj.pk)
        old, new = changes(before, self._state(fresh), self.audit_secrets)
        if new:
            audit.record(f"{self.audit_prefix}.update", obj, actor=request.user, before=old, after=new)
        return super().log_change(request, obj, message)

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        for obj in queryset:
            state = self._state(obj)
            before = {name: CHANGED if name in self.audit_secrets else value for name, value in state.items()}
            audit.record(f"{self.audit_prefix}.delete", obj, actor=request.user, before=before)
        return super().log_deletions(request, queryset)
