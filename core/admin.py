from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest

from core import tokens
from core.admin_audit import AuditedAdmin
from core.models import ApiToken, AuditEvent, JobRun


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by services: viewable in the admin, never edited there."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor_name", "action", "object_repr", "request_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "object_repr", "object_id", "request_id"]


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "name", "queue", "status", "attempts", "enqueued_at", "finished_at"]
    list_filter = ["status", "queue", "name"]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Tokens are listed (never their keys) and can be revoked, which is audited."""

    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    actions = ["revoke"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and bool(request.user.is_superuser)  # the changelist's actions, not edits

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for token in queryset:
            tokens.revoke(token, actor=request.user)
        self.message_user(request, f"{queryset.count()} token(s) revoked.")


class UserAdmin(AuditedAdmin, DjangoUserAdmin):
    """Users who ever acted stay: the audit trail names them. Deactivate them instead.

    Every change made here (roles, activation, passwords) is audited.
    """

    audit_fields = (
        "username",
        "email",
        "first_name",
        "last_name",
        "is_active",
        "is_staff",
        "is_superuser",
        "groups",
        "user_permissions",
    )
    audit_secrets = ("password",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and AuditEvent.objects.filter(actor=obj).exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, Any, Any]:
        """The bulk delete's confirmation names who acted, not each of their (many) audit events."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        acted = sorted({str(user) for user in objs if AuditEvent.objects.filter(actor=user).exists()})
        if acted:
            protected = [
                f"{name}: named in the audit trail; deactivate this user instead (untick Active)"
                for name in acted
            ]
            perms_needed = set()  # what stops the deletion is the trail, not a permission
        return deleted, counts, perms_needed, protected


class GroupAdmin(AuditedAdmin, DjangoGroupAdmin):
    """Roles are groups: a change to their permissions is audited."""

    audit_fields = ("name", "permissions")


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), UserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, GroupAdmin)
