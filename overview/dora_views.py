"""The DORA page: the figures of an application's environments with their numerators and
denominators, and a server-rendered SVG chart of deployments and failures per day."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.errors import ServiceError
from releases import dora

CHART_WIDTH = 720
CHART_HEIGHT = 160
AXIS = 24  # room for the labels under and left of the bars


@dataclass
class Bar:
    x: float
    width: float
    deployments_y: float
    deployments_height: float
    failures_y: float
    failures_height: float
    day: str
    deployments: int
    failures: int


def chart(daily: list[dict[str, Any]]) -> dict[str, Any]:
    """Bar geometry for the daily series: deployments, with failures stacked on top."""
    top = max([int(d["deployments"]) + int(d["failures"]) for d in daily] + [1])
    plot_width, plot_height = CHART_WIDTH - AXIS, CHART_HEIGHT - AXIS
    step = plot_width / max(len(daily), 1)
    bars = []
    for i, d in enumerate(daily):
        deployed, failed = int(d["deployments"]), int(d["failures"])
        dh, fh = deployed / top * plot_height, failed / top * plot_height
        bars.append(
            Bar(
                x=round(AXIS + i * step + step * 0.1, 2),
                width=round(max(step * 0.8, 1), 2),
                deployments_y=round(plot_height - dh, 2),
                deployments_height=round(dh, 2),
                failures_y=round(plot_height - dh - fh, 2),
                failures_height=round(fh, 2),
                day=str(d["day"]),
                deployments=deployed,
                failures=failed,
            )
        )
    labels = [bars[0], bars[len(bars) // 2], bars[-1]] if bars else []
    return {
        "bars": bars,
        "labels": labels,
        "top": top,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "plot_height": plot_height,
        "axis": AXIS,
    }


@login_required
@permission_required("releases.view_release", raise_exception=True)
def dora_page(request: HttpRequest) -> HttpResponse:
    application = request.GET.get("application", "").replace("\x00", "")[:100]
    environment = request.GET.get("environment", "").replace("\x00", "")[:40]
    days = request.GET.get("days") or str(dora.DEFAULT_DAYS)
    context: dict[str, Any] = {"application": application, "environment": environment, "days": days}
    context["period_choices"] = [7, 30, 90, 180, 365]
    if not application:
        return render(request, "overview/dora.html", context)
    try:
        environments, period = dora.select(application, environment, days)
    except ServiceError as exc:
        context["error"] = exc.message
        return render(request, "overview/dora.html", context, status=exc.status_code)
    results = [dora.compute(env, days=period) for env in environments]
    context["results"] = [(result, chart(result.daily)) for result in results]
    return render(request, "overview/dora.html", context)
