from __future__ import annotations

from typing import Any

from rest_framework import serializers

from builds.models import Application
from core.redaction import web_url
from releases import scheduling
from releases.models import Approval, Environment, FreezeWindow, Release, RolloutEvent, RuleChange, Schedule


class FreezeWindowSerializer(serializers.ModelSerializer):
    class Meta:
        model = FreezeWindow
        fields = ["id", "reason", "start", "end", "cron", "duration_minutes", "timezone", "created_at"]
        read_only_fields = ["id", "created_at"]


class EnvironmentSerializer(serializers.ModelSerializer):
    application = serializers.SlugRelatedField(slug_field="name", queryset=Application.objects.all())
    previous: serializers.SlugRelatedField[Environment] = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )
    previous_environment = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=40
    )
    current_release: serializers.PrimaryKeyRelatedField[Release] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )
    active_release: serializers.PrimaryKeyRelatedField[Release] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )
    current_image = serializers.CharField(
        source="current_release.image.reference", read_only=True, default=None, allow_null=True
    )
    current_model_version = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    freeze_windows = FreezeWindowSerializer(many=True, read_only=True)

    class Meta:
        model = Environment
        fields = [
            "id",
            "application",
            "name",
            "order",
            "previous",
            "previous_environment",
            "soak_minutes",
            "target_kind",
            "target_config",
            "required_approvals",
            "allow_self_approval",
            "approval_validity_hours",
            "auto_rollback",
            "rollout_timeout",
            "current_release",
            "current_image",
            "current_model_version",
            "active_release",
            "url",
            "drift",
            "drift_checked_at",
            "freeze_windows",
        ]
        read_only_fields = ["drift", "drift_checked_at"]
        extra_kwargs: dict[str, dict[str, Any]] = {"name": {"validators": []}}

    def get_current_model_version(self, obj: Environment) -> str | None:
        release = obj.current_release
        return str(release.model_version) if release and release.model_version else None

    def get_url(self, obj: Environment) -> str | None:
        if obj.target_kind == Environment.TargetKind.LOCAL and isinstance(obj.target_config.get("port"), int):
            return f"http://127.0.0.1:{obj.target_config['port']}/"
        return web_url(obj.target_config.get("app_url")) or None  # a setting saved before it was checked


class ApprovalSerializer(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver.username")

    class Meta:
        model = Approval
        fields = ["approver", "decision", "digest", "comment", "created_at"]


class RolloutEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = RolloutEvent
        fields = ["at", "phase", "message", "detail"]


class ReleaseSerializer(serializers.ModelSerializer):
    application = serializers.CharField(source="environment.application.name", read_only=True)
    environment = serializers.CharField(source="environment.name", read_only=True)
    environment_id = serializers.IntegerField(read_only=True)
    image = serializers.CharField(source="image.reference", read_only=True)
    model = serializers.CharField(
        source="model_version.model.name", read_only=True, default=None, allow_null=True
    )
    model_version = serializers.IntegerField(
        source="model_version.version", read_only=True, default=None, allow_null=True
    )
    requested_by = serializers.CharField(
        source="requested_by.username", read_only=True, default=None, allow_null=True
    )
    approvals = ApprovalSerializer(many=True, read_only=True)

    class Meta:
        model = Release
        fields = [
            "id",
            "application",
            "environment",
            "environment_id",
            "kind",
            "state",
            "state_reason",
            "image",
            "digest",
            "model",
            "model_version",
            "commit",
            "build",
            "requested_by",
            "requested_at",
            "note",
            "scheduled_for",
            "schedule",
            "rollback_of",
            "previous_release",
            "break_glass_reason",
            "queued_at",
            "started_at",
            "finished_at",
            "target_change",
            "applied_at",
            "progress",
            "approvals",
        ]
        read_only_fields = fields


class ReleaseCreateSerializer(serializers.Serializer):
    environment = serializers.IntegerField(help_text="environment id")
    build = serializers.IntegerField(required=False, help_text="a succeeded build id")
    image = serializers.IntegerField(required=False, help_text="an image id")
    scheduled_for = serializers.DateTimeField(required=False, help_text="deploy at this time once approved")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    def validate(self, attrs: dict) -> dict:
        if bool(attrs.get("build")) == bool(attrs.get("image")):
            raise serializers.ValidationError("Name exactly one of 'build' or 'image'.")
        return attrs


class CandidateSerializer(serializers.Serializer):
    build = serializers.IntegerField(required=False, help_text="a succeeded build id")
    image = serializers.IntegerField(required=False, help_text="an image id")

    def validate(self, attrs: dict) -> dict:
        if bool(attrs.get("build")) == bool(attrs.get("image")):
            raise serializers.ValidationError("Name exactly one of 'build' or 'image'.")
        return attrs


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class RollbackSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ScheduleSerializer(serializers.ModelSerializer):
    environment = serializers.PrimaryKeyRelatedField(queryset=Environment.objects.all())
    owner = serializers.CharField(source="owner.username", read_only=True)
    next_slot = serializers.SerializerMethodField()

    class Meta:
        model = Schedule
        fields = [
            "id",
            "environment",
            "cron",
            "timezone",
            "policy",
            "enabled",
            "owner",
            "owner_approves",
            "prepare_minutes",
            "grace_minutes",
            "next_slot",
            "evaluated_until",
            "created_at",
        ]
        read_only_fields = ["owner", "evaluated_until", "created_at"]

    def validate_cron(self, value: str) -> str:
        try:
            return scheduling.validate_cron(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_timezone(self, value: str) -> str:
        try:
            scheduling.validate_timezone(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value

    def get_next_slot(self, obj: Schedule) -> str | None:
        from django.utils import timezone

        try:
            return scheduling.next_slot(obj.cron, obj.timezone, timezone.now()).isoformat()
        except (ValueError, StopIteration):
            return None


class ChangeSerializer(serializers.Serializer):
    to = serializers.CharField(allow_null=True)

    def get_fields(self) -> dict:
        fields = super().get_fields()
        fields["from"] = serializers.CharField(allow_null=True)
        return fields


class ModelChangeSerializer(ChangeSerializer):
    changed = serializers.BooleanField()


class CommitSerializer(serializers.Serializer):
    sha = serializers.CharField()
    author = serializers.CharField()
    date = serializers.CharField()
    subject = serializers.CharField()


class MetricDeltaSerializer(serializers.Serializer):
    metric = serializers.CharField()
    to = serializers.FloatField(allow_null=True)
    delta = serializers.FloatField(allow_null=True)

    def get_fields(self) -> dict:
        fields = super().get_fields()
        fields["from"] = serializers.FloatField(allow_null=True)
        return fields


class ReleaseDiffSerializer(serializers.Serializer):
    running_release = serializers.IntegerField(allow_null=True)
    digest = ChangeSerializer()
    commit = ChangeSerializer()
    commits = CommitSerializer(many=True)
    commits_truncated = serializers.BooleanField(
        help_text="older commits belong to the change but are not listed"
    )
    commits_note = serializers.CharField(
        help_text="how to read the list, e.g. '100+ commits, older ones not listed'"
    )
    commits_error = serializers.CharField(help_text="why no commit list is shown")
    model_version = ModelChangeSerializer()
    metrics = MetricDeltaSerializer(many=True)


class RuleChangeSerializer(serializers.ModelSerializer):
    environment = serializers.IntegerField(source="environment_id", read_only=True)
    proposed_by = serializers.CharField(source="proposed_by.username", read_only=True)
    decided_by = serializers.CharField(
        source="decided_by.username", read_only=True, default=None, allow_null=True
    )
    changes = serializers.DictField(
        child=serializers.ListField(child=serializers.JSONField(), min_length=2, max_length=2),
        read_only=True,
        help_text='{"field": [from, to]}; approver_group by group id',
    )

    class Meta:
        model = RuleChange
        fields = [
            "id",
            "environment",
            "changes",
            "state",
            "proposed_by",
            "proposed_at",
            "decided_by",
            "decided_at",
            "reason",
        ]
        read_only_fields = fields
