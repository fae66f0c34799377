from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Messages to webhooks, Teams and Slack when something happens; fed by the audit trail."""

    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from core.audit import recorded
        from notifications.signals import on_audit_event

        recorded.connect(on_audit_event, dispatch_uid="notifications.on_audit_event")
