from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.limits import DESCRIPTION_MAX_LENGTH
from models_registry.models import ModelVersion, RegisteredModel


class ModelVersionSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name", read_only=True)
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, default=None, allow_null=True
    )
    url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "model",
            "version",
            "sha256",
            "size",
            "filename",
            "framework",
            "description",
            "metrics",
            "status",
            "status_reason",
            "state",
            "state_reason",
            "source",
            "source_key",
            "source_etag",
            "storage_key",
            "etag",
            "last_modified",
            "content_md5",
            "blob_version_id",
            "created_by",
            "created_at",
            "url",
            "download_url",
        ]
        read_only_fields = fields

    def _url(self, obj: ModelVersion, suffix: str) -> str:
        request = self.context.get("request")
        path = f"/api/v1/models/{obj.model.name}/versions/{obj.version}/{suffix}"
        return request.build_absolute_uri(path) if request else path

    def get_url(self, obj: ModelVersion) -> str:
        return self._url(obj, "")

    def get_download_url(self, obj: ModelVersion) -> str:
        return self._url(obj, "download/")


class RegisteredModelSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True, default=None, allow_null=True)
    version_count = serializers.IntegerField(read_only=True)
    latest_version = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = RegisteredModel
        fields = ["name", "description", "owner", "created_at", "version_count", "latest_version"]
        read_only_fields = ["owner", "created_at", "version_count", "latest_version"]
        extra_kwargs = {"name": {"validators": []}, "description": {"max_length": DESCRIPTION_MAX_LENGTH}}


class ModelUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(allow_blank=True, max_length=10000)


class VersionCreateSerializer(serializers.Serializer):
    """Either ``file`` (multipart upload) or ``key`` (an object already in the model store)."""

    file = serializers.FileField(required=False, allow_empty_file=True)
    key = serializers.CharField(required=False, max_length=1024)
    metrics = serializers.JSONField(required=False)
    framework = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    description = serializers.CharField(required=False, allow_blank=True, max_length=10000, default="")
    sha256 = serializers.RegexField(
        r"^[0-9a-f]{64}$", required=False, help_text="Expected sha256 of the upload; refused on mismatch."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("file")) == bool(attrs.get("key")):
            raise serializers.ValidationError("Send exactly one of 'file' (upload) or 'key' (store object).")
        return attrs


class StatusChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ModelVersion.Status.choices)
    status_reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
