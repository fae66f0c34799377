"""Time travel pages: an application's environments as timelines, what ran at an instant, and
two environments (or one at two instants) side by side. They read rows only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from builds.models import Application
from core.converters import parse_id
from core.errors import ServiceError
from releases import envdiff, history
from releases.models import Environment, RunPeriod

PERIODS = {"1": 1, "7": 7, "30": 30, "90": 90}
SEGMENTS_PER_ENVIRONMENT = 200
HUES = 6  # segments of different model versions take turns through this many colours


@dataclass
class Segment:
    period: RunPeriod
    left: float  # percent of the band
    width: float
    hue: int


@dataclass
class Band:
    environment: Environment
    segments: list[Segment]
    at: RunPeriod | None  # what ran at the instant asked about
    cut: bool  # more periods than shown


@login_required
@permission_required("releases.view_environment", raise_exception=True)
def timeline(request: HttpRequest, name: str) -> HttpResponse:
    """A band per environment of the application, one segment per release that ran there."""
    application = get_object_or_404(Application, name=name)
    days = PERIODS.get(request.GET.get("days", ""), 30)
    until = timezone.now()
    since = until - timedelta(days=days)
    error, at = "", None
    try:
        at = history.instant_param(request.GET, "at")
    except ServiceError as exc:
        error = exc.message
    environments = list(application.environments.order_by("order", "name"))
    ran = history.overlapping(environments, since, until, limit=SEGMENTS_PER_ENVIRONMENT + 1)
    ran_at = history.running_at_each(environments, at) if at else {}
    bands = [_band(env, ran[env.pk], since, until, ran_at.get(env.pk)) for env in environments]
    context = {
        "application": application,
        "bands": bands,
        "days": days,
        "periods": PERIODS,
        "since": since,
        "until": until,
        "at": at,
        "at_text": request.GET.get("at", ""),
        "error": error,
    }
    return render(request, "overview/timeline.html", context)


def _band(
    environment: Environment, rows: list[RunPeriod], since: datetime, until: datetime, ran: RunPeriod | None
) -> Band:
    """The segments of ``rows`` (newest first, one more than are drawn when there are more)."""
    cut = len(rows) > SEGMENTS_PER_ENVIRONMENT
    span = (until - since).total_seconds()
    hues: dict[Any, int] = {}
    segments = []
    for period in reversed(rows[:SEGMENTS_PER_ENVIRONMENT]):
        start = max(period.started_at, since)
        end = min(period.ended_at or until, until)
        version = period.release.model_version_id
        hue = hues.setdefault(version, len(hues) % HUES)
        left = (start - since).total_seconds() / span * 100
        width = max((end - start).total_seconds() / span * 100, 0.3)
        segments.append(Segment(period, round(left, 3), round(min(width, 100 - left), 3), hue))
    return Band(environment, segments, ran, cut)


@login_required
@permission_required("releases.view_environment", raise_exception=True)
def environment_diff(request: HttpRequest) -> HttpResponse:
    """What ``to`` runs against ``from``: commits, model version and metrics, digests, releases between."""
    params = request.GET
    if not params.get("from"):
        return render(request, "overview/diff.html", {"error": "Pick an environment to compare."}, status=400)
    old_env = _environment(params["from"])
    new_env = _environment(params["to"]) if params.get("to") else old_env
    try:
        old_at, new_at = history.instant_param(params, "from_at"), history.instant_param(params, "to_at")
    except ServiceError as exc:
        context = {"error": exc.message, "old_env": old_env, "new_env": new_env, "choices": _choices(old_env)}
        return render(request, "overview/diff.html", context, status=400)
    diff = envdiff.compare(envdiff.side(old_env, old_at), envdiff.side(new_env, new_at))
    context = {
        "diff": diff,
        "old_env": old_env,
        "new_env": new_env,
        "choices": _choices(old_env),
        "from_at": params.get("from_at", ""),
        "to_at": params.get("to_at", ""),
    }
    return render(request, "overview/diff.html", context)


def _environment(value: str) -> Environment:
    pk = parse_id(value)
    return get_object_or_404(
        Environment.objects.select_related("application"), pk=pk if pk is not None else 0
    )


def _choices(environment: Environment) -> list[Environment]:
    """The environments offered in the form: those of the same application (a handful)."""
    return list(
        Environment.objects.filter(application_id=environment.application_id).order_by("order", "name")
    )
