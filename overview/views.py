"""Pages of the dashboard itself: overview, audit log, job runs."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from core.http import HtmxHttpRequest
from core.models import AuditEvent, JobRun
from core.roles import role_names
from models_registry.models import ModelVersion, RegisteredModel
from overview.filters import AuditFilterForm
from releases.models import Environment, Release


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if not role_names(request.user):
        # Signed in, but nobody gave them a role yet: every page would refuse them; say why here.
        return render(request, "overview/no_role.html", status=403)
    context = {
        "model_count": RegisteredModel.objects.count(),
        "version_count": ModelVersion.objects.count(),
        "recent_versions": ModelVersion.objects.select_related("model", "created_by").order_by("-created_at")[
            :8
        ],
        "recent_events": AuditEvent.objects.all()[:10],
        "recent_jobs": JobRun.objects.all()[:5],
        "environments": Paginator(
            Environment.objects.select_related(
                "application",
                "active_release",
                "current_release__model_version__model",
                "current_release__image",
            ).order_by("application__name", "order", "name"),
            50,
        ).get_page(request.GET.get("page")),
        "waiting_approvals": Release.objects.filter(state=Release.State.REQUESTED).count(),
    }
    return render(request, "overview/home.html", context)


@login_required
@permission_required("dashboard.view_auditevent", raise_exception=True)
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    events: QuerySet[AuditEvent] = AuditEvent.objects.all()
    if form.is_valid():
        events = form.filter(events)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "overview/audit.html", {"form": form, "page": page, "query": query.urlencode()})


@login_required
@permission_required("dashboard.view_jobrun", raise_exception=True)
def job_list(request: HtmxHttpRequest) -> HttpResponse:
    page = Paginator(JobRun.objects.all(), 50).get_page(request.GET.get("page"))
    template = "overview/_job_rows.html" if request.htmx else "overview/jobs.html"
    return render(request, template, {"page": page})


@login_required
@permission_required("dashboard.view_jobrun", raise_exception=True)
def job_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(JobRun, pk=pk)
    template = "overview/_job_detail.html" if request.htmx else "overview/job.html"
    return render(request, template, {"run": run})
