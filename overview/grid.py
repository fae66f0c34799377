"""The on-call overview: one cell per application and environment, saying what runs and what waits.

:func:`cells` reads a page of environments and everything their cells show with a fixed number
of queries (the page, who approved what runs, the pending releases and their waiting reasons),
so the grid costs the same with 5 applications or 50. Pages and ``/api/v1/overview/`` both call it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from builds.models import Application
from releases import waiting
from releases.models import Approval, Environment, Release

# The states a cell can be in, most urgent first; a cell shows the first that applies.
DEPLOYING = "deploying"
FAILED = "failed"
DRIFT = "drift"
DEGRADED = "degraded"
WAITING = "waiting"
RUNNING = "running"
EMPTY = "empty"

STATE_WORDS = {
    DEPLOYING: "deploying",
    FAILED: "last release failed",
    DRIFT: "drift",
    DEGRADED: "degraded",
    WAITING: "waiting",
    RUNNING: "running",
    EMPTY: "nothing released",
}


@dataclass
class Cell:
    environment: Environment
    current: Release | None
    active: Release | None
    last_state: str
    approved_by: list[str] = field(default_factory=list)
    pending: list[Release] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)

    @property
    def application(self) -> str:
        return self.environment.application.name

    @property
    def since(self) -> datetime | None:
        return self.current.finished_at if self.current else None

    @property
    def health(self) -> tuple[int, int] | None:
        """(ready, desired) replicas as last observed, or from the current release's rollout."""
        env = self.environment
        if env.desired_replicas is not None and env.ready_replicas is not None:
            return env.ready_replicas, env.desired_replicas
        progress = self.current.progress if self.current else None
        if progress and "replicas" in progress:
            return int(progress.get("ready_replicas") or 0), int(progress.get("replicas") or 0)
        return None

    @property
    def rollout(self) -> dict[str, int] | None:
        if self.active is None:
            return None
        progress = self.active.progress or {}
        return {
            "release": self.active.pk,
            "ready": int(progress.get("ready_replicas") or 0),
            "updated": int(progress.get("updated_replicas") or 0),
            "desired": int(progress.get("replicas") or 0),
        }

    @property
    def state(self) -> str:
        health = self.health
        if self.active is not None:
            return DEPLOYING
        if self.last_state in (Release.State.FAILED, Release.State.ROLLED_BACK):
            return FAILED
        if self.environment.drift:
            return DRIFT
        if health is not None and self.current is not None and health[0] < health[1]:
            return DEGRADED
        if self.pending:
            return WAITING
        return RUNNING if self.current is not None else EMPTY

    @property
    def state_word(self) -> str:
        return STATE_WORDS[self.state]


def environments(application: str = "") -> QuerySet[Environment]:
    """The environments of the grid in promotion order, with what their cells read joined in."""
    latest = Release.objects.filter(environment=OuterRef("pk"), finished_at__isnull=False).order_by(
        "-finished_at", "-pk"
    )
    # Only what a cell shows: the current release's image and requester, never shown, made a
    # fifth of this query's time on a 200-cell page (rows turned into objects, not SQL).
    queryset = (
        Environment.objects.select_related(
            "application",
            "current_release__model_version__model",
            "active_release",
        )
        .annotate(last_state=Subquery(latest.values("state")[:1]))
        .order_by("application__name", "order", "name")
    )
    if application:
        queryset = queryset.filter(application__name__icontains=application)
    return queryset


def cells(page: Iterable[Environment], *, now: datetime | None = None) -> list[Cell]:
    """The cells of a page of :func:`environments` (three more queries, whatever its size)."""
    page = list(page)
    env_ids = [env.pk for env in page]
    current_ids = [env.current_release_id for env in page if env.current_release_id]
    approvers: dict[int, list[str]] = defaultdict(list)
    for release_id, username in (
        Approval.objects.filter(release_id__in=current_ids, decision=Approval.Decision.APPROVE)
        .order_by("created_at")
        .values_list("release_id", "approver__username")
    ):
        approvers[release_id].append(username)
    pending: dict[int, list[Release]] = defaultdict(list)
    for release in Release.objects.filter(environment_id__in=env_ids, state__in=Release.WAITING).order_by(
        "requested_at", "pk"
    ):
        pending[release.environment_id].append(release)
    moving = [release for releases in pending.values() for release in releases]
    moving += [env.active_release for env in page if env.active_release is not None]
    why = waiting.reasons(moving, now=now or timezone.now()) if moving else {}
    result = []
    for env in page:
        said = [reason for release in pending[env.pk] for reason in why.get(release.pk, [])]
        if env.active_release is not None:
            said = why.get(env.active_release.pk, []) + said
        result.append(
            Cell(
                environment=env,
                current=env.current_release,
                active=env.active_release,
                last_state=getattr(env, "last_state", None) or "",
                approved_by=approvers.get(env.current_release_id or 0, []),
                pending=pending[env.pk],
                waiting=list(dict.fromkeys(said)),
            )
        )
    return result


@dataclass
class Row:
    application: str
    url: str
    cells: list[Cell | None]


def grid(applications: Iterable[Application], page_cells: list[Cell]) -> tuple[list[str], list[Row]]:
    """Columns (environment names in promotion order across the page) and one row per application,
    in the order given (an application with no environment yet gets an empty row)."""
    position: dict[str, float] = {}
    for cell in page_cells:
        env = cell.environment
        position[env.name] = min(position.get(env.name, env.order), env.order)
    columns = sorted(position, key=lambda name: (position[name], name))
    rows = {app.pk: Row(app.name, app.get_absolute_url(), [None] * len(columns)) for app in applications}
    for cell in page_cells:
        row = rows.get(cell.environment.application_id)
        if row is not None:
            row.cells[columns.index(cell.environment.name)] = cell
    return columns, list(rows.values())
