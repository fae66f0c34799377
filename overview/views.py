"""Pages of the dashboard itself: overview, audit log, job runs."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from builds.models import Application
from core import listing
from core.http import HtmxHttpRequest
from core.models import AuditEvent, JobRun
from core.roles import role_names
from models_registry.models import ModelVersion
from overview import grid
from overview.filters import JOB_FILTERS, AuditFilterForm
from releases.models import Release

GRID_APPLICATIONS_PER_PAGE = 50


@login_required
def home(request: HtmxHttpRequest) -> HttpResponse:
    """The overview grid: applications by environments, refreshed in place every few seconds."""
    if not role_names(request.user):
        # Signed in, but nobody gave them a role yet: every page would refuse them; say why here.
        return render(request, "overview/no_role.html", status=403)
    application = request.GET.get("application", "").replace("\x00", "")[:100]
    applications = Application.objects.order_by("name").only("name")
    if application:
        applications = applications.filter(name__icontains=application)
    page = Paginator(applications, GRID_APPLICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    grid_html = _grid_html(request, page, application)
    if request.htmx:
        return HttpResponse(grid_html)
    context = {
        "grid_html": grid_html,
        "page": page,
        "application": application,
        "recent_versions": ModelVersion.objects.select_related("model", "created_by").order_by("-created_at")[
            :8
        ],
        "recent_jobs": JobRun.objects.all()[:8],
        "recent_events": AuditEvent.objects.all()[:10],
        "waiting_approvals": Release.objects.filter(state=Release.State.REQUESTED).count(),
    }
    return render(request, "overview/home.html", context)


def _grid_html(request: HttpRequest, page: Page[Application], application: str) -> str:
    """The grid's cells, rendered at most once per ``OVERVIEW_CACHE_SECONDS`` for all replicas
    and viewers (the cells show nothing per user): many people polling every 5 s cost one render."""
    seconds = settings.OVERVIEW_CACHE_SECONDS
    key = "overview-grid:" + hashlib.sha256(f"{application}\n{page.number}".encode()).hexdigest()
    cached = cache.get(key) if seconds else None
    if cached is not None:
        return mark_safe(cached)
    shown = list(page.object_list)
    columns, rows = grid.grid(shown, grid.cells(grid.environments().filter(application__in=shown)))
    context = {
        "columns": columns,
        "rows": rows,
        "page": page,
        "application": application,
        "refreshed_at": timezone.now(),
    }
    html = render_to_string("overview/_grid.html", context, request=request)
    if seconds:
        cache.set(key, str(html), seconds)
    return html


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
    found = listing.page_of(request, JobRun.objects.all(), JOB_FILTERS)
    template = "overview/_job_rows.html" if request.htmx else "overview/jobs.html"
    return render(request, template, {"listing": found, "page": found.page})


@login_required
@permission_required("dashboard.view_jobrun", raise_exception=True)
def job_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(JobRun, pk=pk)
    template = "overview/_job_detail.html" if request.htmx else "overview/job.html"
    return render(request, template, {"run": run})
