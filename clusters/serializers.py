from __future__ import annotations

from typing import Any, ClassVar

from rest_framework import serializers

from clusters.models import MAX_KUBECONFIG, Cluster


class ClusterSerializer(serializers.ModelSerializer):
    """A cluster as anyone may see it: its credentials never, only ``has_credentials``."""

    token = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=10_000,
        trim_whitespace=True,
        help_text='bearer token (auth_kind "token"); absent or null keeps it, "" removes it',
    )
    kubeconfig = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=MAX_KUBECONFIG,
        trim_whitespace=False,
        help_text='kubeconfig text (auth_kind "kubeconfig"); absent or null keeps it, "" removes it',
    )
    has_credentials = serializers.BooleanField(read_only=True)
    needs_credentials = serializers.BooleanField(read_only=True)

    class Meta:
        model = Cluster
        fields = [
            "id",
            "name",
            "server_url",
            "ca_bundle",
            "auth_kind",
            "token",
            "kubeconfig",
            "context",
            "has_credentials",
            "needs_credentials",
            "check_state",
            "check_reason",
            "check_namespace",
            "check_verbs",
            "checked_at",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "check_state",
            "check_reason",
            "check_namespace",
            "check_verbs",
            "checked_at",
            "created_at",
        ]
        extra_kwargs: ClassVar[dict[str, Any]] = {"name": {"validators": []}}


class ConnectionTestSerializer(serializers.Serializer):
    namespace = serializers.CharField(
        max_length=63, help_text="the namespace whose deploy permissions are reviewed"
    )
