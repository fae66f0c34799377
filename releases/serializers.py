from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from builds.models import Application
from core.redaction import web_url
from releases import scheduling, waiting
from releases.models import (
    Approval,
    Environment,
    FreezeWindow,
    Release,
    RolloutEvent,
    RuleChange,
    RunPeriod,
    Schedule,
)

MODEL_VERSION_SCHEMA = {
    "type": "object",
    "nullable": True,
    "properties": {"name": {"type": "string"}, "version": {"type": "integer"}},
}


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


class ReleaseListSerializer(serializers.ListSerializer):
    """Reads the waiting reasons of a whole page at once (a fixed number of queries)."""

    def to_representation(self, data: Any) -> list[Any]:
        items = list(data.all() if hasattr(data, "all") else data)
        cast("dict[str, Any]", self.context)["waiting"] = waiting.reasons(items)
        return super().to_representation(items)


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
    waiting = serializers.SerializerMethodField(help_text="why it is not moving, one sentence per reason")

    class Meta:
        model = Release
        list_serializer_class = ReleaseListSerializer
        fields = [
            "id",
            "application",
            "environment",
            "environment_id",
            "kind",
            "state",
            "state_reason",
            "waiting",
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

    def get_waiting(self, release: Release) -> list[str]:
        known = self.context.get("waiting")
        if known is not None and release.pk in known:
            return known[release.pk]
        return waiting.reasons([release])[release.pk]


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


class RunPeriodSerializer(serializers.ModelSerializer):
    """One release running in one environment, from when it became current until it was replaced."""

    release_id = serializers.IntegerField(source="release.pk")
    environment_id = serializers.IntegerField(source="environment.pk")
    environment = serializers.CharField(source="environment.name")
    application = serializers.CharField(source="environment.application.name")
    model_version = serializers.SerializerMethodField()
    digest = serializers.CharField(source="release.digest")
    commit = serializers.CharField(source="release.commit")
    kind = serializers.CharField(source="release.kind")
    started_at = serializers.DateTimeField(help_text="from")
    ended_at = serializers.DateTimeField(allow_null=True, help_text="until; null while it still runs")

    class Meta:
        model = RunPeriod
        fields = [
            "release_id",
            "environment_id",
            "environment",
            "application",
            "model_version",
            "digest",
            "commit",
            "kind",
            "started_at",
            "ended_at",
        ]

    @extend_schema_field(MODEL_VERSION_SCHEMA)
    def get_model_version(self, period: RunPeriod) -> dict[str, Any] | None:
        version = period.release.model_version
        return {"name": version.model.name, "version": version.version} if version else None


class DiffSideSerializer(serializers.Serializer):
    environment_id = serializers.IntegerField()
    environment = serializers.CharField()
    application = serializers.CharField()
    at = serializers.DateTimeField(allow_null=True, help_text="the instant compared; null: now")
    release_id = serializers.IntegerField(allow_null=True, help_text="what ran then; null: nothing had")
    digest = serializers.CharField(allow_null=True)
    commit = serializers.CharField(allow_null=True)
    model_version = serializers.JSONField(allow_null=True)
    since = serializers.DateTimeField(allow_null=True)


class DigestChangeSerializer(ChangeSerializer):
    changed = serializers.BooleanField()


class BetweenSerializer(serializers.Serializer):
    release_id = serializers.IntegerField()
    kind = serializers.CharField()
    model_version = serializers.CharField(allow_null=True)
    digest = serializers.CharField()
    commit = serializers.CharField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)


class EnvironmentDiffSerializer(serializers.Serializer):
    same_application = serializers.BooleanField()
    notes = serializers.ListField(child=serializers.CharField())
    to = DiffSideSerializer()
    digest = DigestChangeSerializer()
    commits = CommitSerializer(many=True)
    commits_truncated = serializers.BooleanField()
    commits_note = serializers.CharField()
    commits_error = serializers.CharField()
    model_version = ModelChangeSerializer()
    metrics = MetricDeltaSerializer(many=True)
    releases_between = BetweenSerializer(many=True)

    def get_fields(self) -> dict:
        fields = super().get_fields()
        fields["from"] = DiffSideSerializer()
        return fields


class FigureSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True, help_text="null when there is nothing to compute it from")
    numerator = serializers.FloatField()
    denominator = serializers.FloatField()
    unit = serializers.CharField()


class DailySerializer(serializers.Serializer):
    day = serializers.DateField()
    deployments = serializers.IntegerField()
    failures = serializers.IntegerField()


class DoraSerializer(serializers.Serializer):
    environment_id = serializers.IntegerField(source="environment.pk")
    environment = serializers.CharField(source="environment.name")
    application = serializers.CharField(source="environment.application.name")
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    deployment_frequency = FigureSerializer(help_text="succeeded deployments (not rollbacks) per day")
    lead_time_hours = FigureSerializer(
        help_text="earliest new commit or model version registration to success; median over deployments"
    )
    model_lead_time_hours = FigureSerializer(help_text="model version registered to serving here; median")
    change_failure_rate = FigureSerializer(help_text="failed or rolled back / all finished")
    time_to_restore_hours = FigureSerializer(help_text="a failure to the next success here; median")
    daily = DailySerializer(many=True)
