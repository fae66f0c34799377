"""Channels in the admin: settings can be changed (audited) and channels deleted; the URL and the
secret are never shown there. New channels are made on the notifications page, which shows a
new secret once."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.admin import ReadOnlyAdmin
from core.admin_audit import AuditedAdmin
from notifications.models import Delivery, NotificationChannel


@admin.register(NotificationChannel)
class NotificationChannelAdmin(AuditedAdmin):
    list_display = ["name", "kind", "endpoint", "application", "environment", "enabled"]
    list_filter = ["kind", "enabled"]
    fields = ["name", "kind", "endpoint", "has_secret", "events", "application", "environment", "enabled"]
    readonly_fields = ["kind", "endpoint", "has_secret"]
    audit_fields = ("name", "kind", "endpoint", "events", "application", "environment", "enabled")
    audit_secrets = NotificationChannel.SECRET_FIELDS

    @property
    def audit_prefix(self) -> str:
        return "notification_channel"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(boolean=True, description="secret set")
    def has_secret(self, obj: Any) -> bool:
        return bool(obj.secret)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "channel", "event", "state", "attempts", "response_code", "finished_at"]
    list_filter = ["state", "event"]
    exclude = ["payload"]
