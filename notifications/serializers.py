from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from builds.models import Application
from notifications.models import Delivery, Event, NotificationChannel, validate_web_url
from releases.models import Environment


class ChannelSerializer(serializers.ModelSerializer):
    """A channel as anyone may see it: the URL only as ``endpoint``, the secret never."""

    url = serializers.CharField(
        write_only=True,
        max_length=2000,
        validators=[validate_web_url],
        help_text="the receiver's http(s) URL; shown afterwards only as `endpoint`",
    )
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=200,
        help_text='signs each body; absent or null keeps it, "" removes it (webhook channels get a new one)',
    )
    events = serializers.ListField(child=serializers.ChoiceField(choices=Event.choices), max_length=20)
    application = serializers.SlugRelatedField(
        slug_field="name", queryset=Application.objects.all(), required=False, allow_null=True
    )
    environment = serializers.PrimaryKeyRelatedField(
        queryset=Environment.objects.all(), required=False, allow_null=True
    )
    endpoint = serializers.CharField(
        read_only=True, help_text="scheme, host and first path segment of the URL"
    )
    has_secret = serializers.BooleanField(read_only=True)

    class Meta:
        model = NotificationChannel
        fields = [
            "id",
            "name",
            "kind",
            "url",
            "endpoint",
            "secret",
            "has_secret",
            "events",
            "application",
            "environment",
            "enabled",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
        extra_kwargs: ClassVar[dict[str, Any]] = {"name": {"validators": []}}


class IssuedChannelSerializer(ChannelSerializer):
    """The answer of the request that made or changed a channel: with the secret when it set one."""

    secret = serializers.SerializerMethodField(  # type: ignore[assignment]
        help_text="the secret, in this answer only, when this request set it; null otherwise"
    )

    @extend_schema_field({"type": "string", "nullable": True})
    def get_secret(self, obj: NotificationChannel) -> str | None:
        # Never the stored secret: only what the view hands over as just set.
        return getattr(obj, "revealed_secret", None)


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = [
            "id",
            "channel",
            "event",
            "state",
            "attempts",
            "response_code",
            "last_error",
            "payload",
            "created_at",
            "last_attempt_at",
            "finished_at",
        ]
        read_only_fields = fields
