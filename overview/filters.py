"""Filtering of the audit log, shared by its page and its API endpoint."""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.db.models import QuerySet

from core.listing import Filter
from core.models import AuditEvent, JobRun


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False)
    action = forms.CharField(required=False)
    object_type = forms.CharField(required=False)
    object_id = forms.CharField(required=False)
    request_id = forms.CharField(required=False)
    since = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def filter(self, queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        data = self.cleaned_data
        exact = {f: data[f] for f in ("actor", "object_type", "object_id") if data.get(f)}
        if "actor" in exact:
            exact["actor_name"] = exact.pop("actor")
        queryset = queryset.filter(**exact)
        if data.get("action"):
            queryset = queryset.filter(action__startswith=data["action"])
        if data.get("request_id"):  # the client's X-Request-ID is the start of ours
            queryset = queryset.filter(request_id__startswith=data["request_id"])
        since: datetime | None = data.get("since")
        until: datetime | None = data.get("until")
        if since:
            queryset = queryset.filter(created_at__gte=since)
        if until:
            queryset = queryset.filter(created_at__lt=until)
        return queryset


JOB_FILTERS = [
    Filter("status", "Status", lambda qs, v: qs.filter(status=v), choices=tuple(JobRun.Status.values)),
    Filter("name", "Job", lambda qs, v: qs.filter(name__icontains=v), placeholder="e.g. run_build"),
]
