from __future__ import annotations

from rest_framework import serializers

from core.models import AuditEvent, JobRun


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")
    before = serializers.JSONField(source="shown_before", read_only=True, allow_null=True)
    after = serializers.JSONField(source="shown_after", read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
            "request_id",
        ]
        read_only_fields = fields


class JobRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobRun
        fields = [
            "id",
            "name",
            "queue",
            "args",
            "status",
            "attempts",
            "max_attempts",
            "object_type",
            "object_id",
            "request_id",
            "enqueued_at",
            "run_after",
            "started_at",
            "heartbeat_at",
            "worker",
            "finished_at",
            "error",
            "result",
        ]
        read_only_fields = fields
