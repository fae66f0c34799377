"""API endpoints of the dashboard itself: the overview, audit log, job runs."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core import listing
from core.api import HasRolePermission, query_text
from core.errors import ServiceError
from core.forms import describe_errors
from core.models import AuditEvent, JobRun
from core.serializers import AuditEventSerializer, JobRunSerializer
from overview import grid
from overview.filters import JOB_FILTERS, AuditFilterForm
from releases.models import Environment

AUDIT_FILTERS = [
    OpenApiParameter(name, str, description=description)
    for name, description in [
        ("actor", "user name, or 'system' / 'job:<name>'"),
        ("action", "action prefix, e.g. 'model_version.'"),
        ("object_type", "e.g. 'models_registry.modelversion'"),
        ("object_id", "primary key of the object"),
        ("request_id", "start of the request id (the X-Request-ID answered, or the one the client sent)"),
        ("since", "ISO 8601 date-time (inclusive)"),
        ("until", "ISO 8601 date-time (exclusive)"),
    ]
]


@extend_schema(parameters=AUDIT_FILTERS)
class AuditListView(generics.ListAPIView):
    serializer_class = AuditEventSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": "dashboard.view_auditevent"}

    def get_queryset(self) -> QuerySet[AuditEvent]:
        form = AuditFilterForm(self.request.query_params)
        if not form.is_valid():
            raise ServiceError(f"Invalid filter: {describe_errors(form.errors)}")
        return form.filter(AuditEvent.objects.all())


@extend_schema(parameters=listing.parameters(JOB_FILTERS))
class JobRunListView(generics.ListAPIView):
    serializer_class = JobRunSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": "dashboard.view_jobrun"}

    def get_queryset(self) -> QuerySet[JobRun]:
        return listing.apply(JobRun.objects.all(), JOB_FILTERS, self.request.query_params)


class JobRunDetailView(generics.RetrieveAPIView):
    serializer_class = JobRunSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": "dashboard.view_jobrun"}
    queryset = JobRun.objects.all()


class OverviewEntrySerializer(serializers.Serializer):
    """One application and environment cell of the overview."""

    application = serializers.CharField()
    environment = serializers.CharField(source="environment.name")
    environment_id = serializers.IntegerField(source="environment.pk")
    order = serializers.IntegerField(source="environment.order")
    state = serializers.ChoiceField(choices=list(grid.STATE_WORDS))
    state_text = serializers.CharField(source="state_word")
    release_id = serializers.IntegerField(source="current.pk", allow_null=True, default=None)
    model_version = serializers.SerializerMethodField()
    commit = serializers.CharField(source="current.commit", allow_null=True, default=None)
    digest = serializers.CharField(source="current.digest", allow_null=True, default=None)
    since = serializers.DateTimeField(allow_null=True)
    approved_by = serializers.ListField(child=serializers.CharField())
    health = serializers.SerializerMethodField()
    rollout = serializers.SerializerMethodField()
    drift = serializers.CharField(source="environment.drift")
    pending = serializers.SerializerMethodField()
    waiting = serializers.ListField(
        child=serializers.CharField(), help_text="why something here is not moving"
    )
    url = serializers.SerializerMethodField()

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {"name": {"type": "string"}, "version": {"type": "integer"}},
        }
    )
    def get_model_version(self, cell: grid.Cell) -> dict[str, Any] | None:
        version = cell.current.model_version if cell.current else None
        return {"name": version.model.name, "version": version.version} if version else None

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {"ready": {"type": "integer"}, "desired": {"type": "integer"}},
        }
    )
    def get_health(self, cell: grid.Cell) -> dict[str, int] | None:
        health = cell.health
        return {"ready": health[0], "desired": health[1]} if health else None

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {name: {"type": "integer"} for name in ("release", "ready", "updated", "desired")},
        }
    )
    def get_rollout(self, cell: grid.Cell) -> dict[str, int] | None:
        return cell.rollout

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "state": {"type": "string"}},
            },
        }
    )
    def get_pending(self, cell: grid.Cell) -> list[dict[str, Any]]:
        return [{"id": release.pk, "state": release.state} for release in cell.pending]

    def get_url(self, cell: grid.Cell) -> str:
        return self.context["request"].build_absolute_uri(cell.environment.get_absolute_url())


@extend_schema(parameters=[OpenApiParameter("application", str, description="name contains")])
class OverviewView(generics.ListAPIView):
    """What runs where: one entry per application and environment, in promotion order."""

    serializer_class = OverviewEntrySerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": "releases.view_environment"}

    def get_queryset(self) -> QuerySet[Environment]:
        return grid.environments(query_text(self.request.query_params, "application"))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        serializer = self.get_serializer(grid.cells(page or []), many=True)
        return self.get_paginated_response(serializer.data)
