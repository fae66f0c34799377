"""API endpoints of the dashboard itself: audit log, job runs, tokens."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics

from dashboard.api import HasRolePermission
from dashboard.errors import ServiceError
from dashboard.filters import AuditFilterForm
from dashboard.forms import describe_errors
from dashboard.models import AuditEvent, JobRun
from dashboard.serializers import AuditEventSerializer, JobRunSerializer

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


class JobRunListView(generics.ListAPIView):
    serializer_class = JobRunSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": "dashboard.view_jobrun"}

    def get_queryset(self) -> QuerySet[JobRun]:
        queryset = JobRun.objects.all()
        status = self.request.query_params.get("status")
        return queryset.filter(status=status) if status else queryset


class JobRunDetailView(generics.RetrieveAPIView):
    serializer_class = JobRunSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": "dashboard.view_jobrun"}
    queryset = JobRun.objects.all()
