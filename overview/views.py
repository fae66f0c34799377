"""Pages of the dashboard itself: overview, audit log, job runs."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from builds.models import Application
from core import listing
from core.http import HtmxHttpRequest
from core.models import AuditEvent, JobRun
from core.roles import request_role_names
from models_registry.models import ModelVersion
from overview import grid
from overview.filters import JOB_FILTERS, AuditFilterForm
from overview.homecache import Grids, Overview, Pages
from releases.models import Release

GRID_APPLICATIONS_PER_PAGE = 50
GRIDS_KEPT = 16  # grids (filters and pages) each web process keeps a copy of
PAGES_KEPT = 64  # home pages (viewer kinds x grids) each web process keeps, 150 KiB each at most
CAPTION = re.compile(r"<caption.*?</caption>", re.DOTALL)  # says when the grid was rendered
grids, pages = Grids(GRIDS_KEPT), Pages(PAGES_KEPT)


@login_required
def home(request: HtmxHttpRequest) -> HttpResponse:
    """The overview grid: applications by environments, refreshed in place every few seconds.

    The page is the grid and little else, so that on-call can keep it open and poll it: recent
    changes, model versions and jobs come in a second request (:func:`activity`) after it shows.
    """
    if not request_role_names(request):
        # Signed in, but nobody gave them a role yet: every page would refuse them; say why here.
        return render(request, "overview/no_role.html", status=403)
    application = request.GET.get("application", "").replace("\x00", "")[:100]
    number = _page_number(request.GET.get("page"))
    seen = request.GET.get("seen")
    key = grid_cache_key(application, number)
    version = grids.version(key) if settings.OVERVIEW_CACHE_SECONDS else None  # read once a request
    if request.htmx and seen and seen == version:
        return HttpResponse(status=204)  # as below, without reading the 150 KiB grid from Redis
    overview = _overview(request, application, number, key, version)
    if request.htmx:
        if seen == overview.version:
            # The viewer's grid is current: no body, and htmx leaves the page (and screen
            # readers) alone, instead of every open tab taking 150 KiB every five seconds.
            return HttpResponse(status=204)
        return HttpResponse(overview.grid_html + _seen(overview.version, out_of_band=True))
    context = {
        "overview": overview,
        "grid_html": mark_safe(overview.grid_html),
        "seen": _seen(overview.version),
        "application": application,
    }

    def render_page(extra: dict[str, Any]) -> HttpResponse:
        return render(request, "overview/home.html", context | extra)

    if not settings.OVERVIEW_CACHE_SECONDS:
        return render_page({})
    return pages.respond(request, overview, (application, overview.page_number), render_page)


def _seen(version: str, *, out_of_band: bool = False) -> SafeString:
    """The grid version the page holds; each poll sends it (``hx-include``), each new grid
    replaces it (``hx-swap-oob``)."""
    oob = mark_safe(' hx-swap-oob="true"') if out_of_band else ""
    return format_html('<input type="hidden" id="grid-seen" name="seen" value="{}"{}>', version, oob)


def _page_number(raw: str | None) -> int:
    """The grid page asked for; anything that is not a small number is the first page."""
    if raw and raw.isascii() and raw.isdecimal() and len(raw) <= 6:
        return max(int(raw), 1)
    return 1


def _overview(request: HttpRequest, application: str, number: int, key: str, version: str | None) -> Overview:
    """The grid's cells and counts, made at most once per ``OVERVIEW_CACHE_SECONDS`` for all
    replicas and viewers: many people polling every 5 s cost one render, and a page view costs
    a cache read instead of the queries and templates behind 200 cells."""
    seconds = settings.OVERVIEW_CACHE_SECONDS
    cached = grids.get(key, version) if version else None
    if cached is not None:
        return cached
    applications = Application.objects.order_by("name").only("name")
    if application:
        applications = applications.filter(name__icontains=application)
    page = Paginator(applications, GRID_APPLICATIONS_PER_PAGE).get_page(number)
    shown = list(page.object_list)
    columns, rows = grid.grid(shown, grid.cells(grid.environments().filter(application__in=shown)))
    context = {
        "columns": columns,
        "rows": rows,
        "page": page,
        "application": application,
        "refreshed_at": timezone.now(),
    }
    html = str(render_to_string("overview/_grid.html", context, request=request))
    waiting_approvals = Release.objects.filter(state=Release.State.REQUESTED).count()
    # What the viewer sees, without the caption's render time: the same cells, the same version.
    shown_state = f"{CAPTION.sub('', html)}\n{waiting_approvals}"
    overview = Overview(
        grid_html=html,
        page_number=page.number,
        waiting_approvals=waiting_approvals,
        version=hashlib.sha256(shown_state.encode()).hexdigest()[:16],
    )
    if seconds:
        grids.put(key, overview, seconds)
    return overview


def grid_cache_key(application: str, number: int) -> str:
    """Where one filter and page of the grid is cached (``…:version`` holds its version alone)."""
    # Named after the Overview class's module: a grid pickled by an older release is not read back.
    return "overview.homecache:" + hashlib.sha256(f"{application}\n{number}".encode()).hexdigest()


@login_required
def activity(request: HtmxHttpRequest) -> HttpResponse:
    """Below the grid, loaded after it: recent changes, the latest model versions, recent jobs."""
    if not request_role_names(request):
        return render(request, "overview/no_role.html", status=403)
    context = {
        "recent_versions": ModelVersion.objects.select_related("model", "created_by").order_by("-created_at")[
            :8
        ],
        "recent_jobs": JobRun.objects.all()[:8],
        "recent_events": AuditEvent.objects.all()[:10],
    }
    template = "overview/_activity.html" if request.htmx else "overview/activity.html"
    return render(request, template, context)


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
