from django.contrib import admin

from core.admin import ReadOnlyAdmin
from releases.models import Approval, Environment, Release, RolloutEvent, Schedule, ScheduleRun


@admin.register(Environment)
class EnvironmentAdmin(ReadOnlyAdmin):
    list_display = [
        "application",
        "name",
        "target_kind",
        "required_approvals",
        "current_release",
        "active_release",
    ]


@admin.register(Release)
class ReleaseAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "environment",
        "kind",
        "state",
        "digest",
        "model_version",
        "requested_by",
        "requested_at",
    ]
    list_filter = ["state", "kind"]


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    list_display = ["release", "approver", "decision", "created_at"]


@admin.register(RolloutEvent)
class RolloutEventAdmin(ReadOnlyAdmin):
    list_display = ["release", "at", "phase", "message"]


@admin.register(Schedule)
class ScheduleAdmin(ReadOnlyAdmin):
    list_display = ["environment", "cron", "timezone", "policy", "enabled", "owner"]


@admin.register(ScheduleRun)
class ScheduleRunAdmin(ReadOnlyAdmin):
    list_display = ["schedule", "slot", "outcome", "reason", "release"]
