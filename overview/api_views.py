"""API endpoints of the dashboard itself: audit log, job runs, tokens."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics

from core.api import HasRolePermission, query_text
from core.errors import ServiceError
from core.forms import describe_errors
from core.models import AuditEvent, JobRun
from core.serializers import AuditEventSerializer, JobRunSerializer
from overview.filters import AuditFilterForm

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


@extend_schema(
    parameters=[OpenApiParameter("status", enum=JobRun.Status.values, description="only runs in it")]
)
class JobRunListView(generics.ListAPIView):
    serializer_class = JobRunSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": "dashboard.view_jobrun"}

    def get_queryset(self) -> QuerySet[JobRun]:
        queryset = JobRun.objects.all()
        status = query_text(self.request.query_params, "status")
        if not status:
            return queryset
        if status not in JobRun.Status.values:
            raise ServiceError(f"status must be one of {', '.join(JobRun.Status.values)}.", field="status")
        return queryset.filter(status=status)


class JobRunDetailView(generics.RetrieveAPIView):
    serializer_class = JobRunSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": "dashboard.view_jobrun"}
    queryset = JobRun.objects.all()
