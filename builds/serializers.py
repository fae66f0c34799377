from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from builds.models import Application, Build, Image, ImageTag
from core.limits import DESCRIPTION_MAX_LENGTH
from models_registry.models import RegisteredModel


class ApplicationSerializer(serializers.ModelSerializer):
    model = serializers.SlugRelatedField(slug_field="name", queryset=RegisteredModel.objects.all())
    webhook_secret = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=200)
    has_webhook_secret = serializers.SerializerMethodField()

    class Meta:
        model = Application
        fields = [
            "name",
            *Application.EDITABLE_FIELDS,
            "has_webhook_secret",
            "last_seen_commit",
            "last_polled_at",
            "poll_error",
            "created_at",
        ]
        read_only_fields = ["last_seen_commit", "last_polled_at", "poll_error", "created_at"]
        extra_kwargs = {"name": {"validators": []}, "description": {"max_length": DESCRIPTION_MAX_LENGTH}}

    def get_has_webhook_secret(self, obj: Application) -> bool:
        return bool(obj.webhook_secret)


class ImageSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Image
        fields = ["id", "repository", "digest", "reference"]


class BuildSerializer(serializers.ModelSerializer):
    application = serializers.CharField(source="application.name", read_only=True)
    model = serializers.CharField(source="model_version.model.name", read_only=True)
    model_version = serializers.IntegerField(source="model_version.version", read_only=True)
    requested_by = serializers.CharField(
        source="requested_by.username", read_only=True, default=None, allow_null=True
    )
    image = ImageSummarySerializer(read_only=True, allow_null=True)
    commit = serializers.SerializerMethodField()
    external_url = serializers.SerializerMethodField()
    requested_ref = serializers.CharField(
        read_only=True,
        help_text="what was asked for: a commit sha (or prefix), or refs/heads/<branch> for its head",
    )

    class Meta:
        model = Build
        fields = [
            "id",
            "application",
            "commit",
            "requested_ref",
            "model",
            "model_version",
            "state",
            "trigger",
            "requested_by",
            "image_tag",
            "image",
            "external_id",
            "external_url",
            "failure_reason",
            "duplicate_of",
            "cancel_requested",
            "attempt",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_commit(self, obj: Build) -> str | None:
        """The full sha; null while the build job is still resolving what was asked for."""
        return obj.commit or None

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_external_url(self, obj: Build) -> str | None:
        """The run's page in the build service; null for a local build."""
        return obj.external_url or None


class BuildCreateSerializer(serializers.Serializer):
    application = serializers.CharField(max_length=100)
    commit = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=40,
        help_text="a commit sha or a prefix of 7+ hex digits, resolved by the build job; "
        "default: the head of the default branch",
    )
    model_version = serializers.IntegerField(
        required=False, min_value=1, help_text="default: the latest active version of the application's model"
    )


class BuildLogSerializer(serializers.Serializer):
    offset = serializers.IntegerField()
    next_offset = serializers.IntegerField()
    text = serializers.CharField()
    state = serializers.CharField()


class ImageSerializer(serializers.ModelSerializer):
    application = serializers.CharField(
        source="application.name", read_only=True, default=None, allow_null=True
    )
    model = serializers.CharField(
        source="model_version.model.name", read_only=True, default=None, allow_null=True
    )
    model_version = serializers.IntegerField(
        source="model_version.version", read_only=True, default=None, allow_null=True
    )
    model_sha256 = serializers.CharField(
        source="model_version.sha256", read_only=True, default=None, allow_null=True
    )
    tags: serializers.SlugRelatedField[ImageTag] = serializers.SlugRelatedField(
        slug_field="tag", many=True, read_only=True
    )

    class Meta:
        model = Image
        fields = [
            "id",
            "repository",
            "digest",
            "reference",
            "tags",
            "application",
            "commit",
            "model",
            "model_version",
            "model_sha256",
            "labels",
            "source",
            "lineage_problem",
            "image_created_at",
            "discovered_at",
        ]
        read_only_fields = fields
