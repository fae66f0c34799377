"""Two environments side by side (or one at two instants): what the "to" side has that "from" lacks.

Reads rows only: what ran comes from the run periods (``releases.history``), commits from the
lists builds recorded (``builds.history``), metrics from the model versions. Typical use: from
prod to staging answers "what would promoting staging bring to prod?".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from builds import history as build_history
from releases import history
from releases.diff import commit_fields, version_fields
from releases.models import Environment, Release, RunPeriod

BETWEEN_LIMIT = 50


@dataclass
class Side:
    environment: Environment
    at: datetime | None  # None: now
    period: RunPeriod | None

    @property
    def release(self) -> Release | None:
        return self.period.release if self.period else None

    def as_dict(self) -> dict[str, Any]:
        release = self.release
        version = release.model_version if release else None
        return {
            "environment_id": self.environment.pk,
            "environment": self.environment.name,
            "application": self.environment.application.name,
            "at": self.at,
            "release_id": release.pk if release else None,
            "digest": release.digest if release else None,
            "commit": release.commit if release else None,
            "model_version": {"name": version.model.name, "version": version.version} if version else None,
            "since": self.period.started_at if self.period else None,
        }


def side(environment: Environment, at: datetime | None) -> Side:
    if at is None:
        period = history.periods().filter(environment=environment, ended_at__isnull=True).first()
    else:
        period = history.running_at(environment, at)
    return Side(environment, at, period)


def compare(old: Side, new: Side) -> dict[str, Any]:
    """What ``new`` runs against what ``old`` runs."""
    a, b = old.release, new.release
    same_app = old.environment.application_id == new.environment.application_id
    notes = []
    if not same_app:
        notes.append(
            f"{old.environment} and {new.environment} belong to different applications: "
            "commits are not compared, the model versions and digests are."
        )
    if b is None:
        commits = build_history.CommitRange()
    elif same_app:
        commits = build_history.commits_between(
            new.environment.application_id, a.commit if a else "", b.commit
        )
    else:
        commits = build_history.CommitRange(error="different applications: their commits are not comparable")
    return {
        "from": old.as_dict(),
        "to": new.as_dict(),
        "same_application": same_app,
        "notes": notes,
        "digest": {"from": _digest(a), "to": _digest(b), "changed": _digest(a) != _digest(b)},
        **commit_fields(commits),
        **version_fields(a.model_version if a else None, b.model_version if b else None),
        "releases_between": [_between_entry(p) for p in between(old, new)],
    }


def _digest(release: Release | None) -> str | None:
    return release.digest if release else None


def between(old: Side, new: Side) -> list[RunPeriod]:
    """The releases that ran in ``new``'s environment after what ``old`` runs ran there (or, for
    one environment at two instants, between them), up to what ``new`` runs; newest first."""
    if new.period is None:
        return []
    periods = history.timeline(new.environment).filter(started_at__lte=new.period.started_at)
    if old.environment.pk == new.environment.pk:
        start = old.period.started_at if old.period else None
    else:
        digest = _digest(old.release)
        same = periods.filter(release__digest=digest).order_by("-started_at").first() if digest else None
        start = same.started_at if same else None
    if start is not None:
        periods = periods.filter(started_at__gt=start)
    return list(periods[:BETWEEN_LIMIT])


def _between_entry(period: RunPeriod) -> dict[str, Any]:
    release = period.release
    return {
        "release_id": release.pk,
        "kind": release.kind,
        "model_version": str(release.model_version) if release.model_version else None,
        "digest": release.digest,
        "commit": release.commit,
        "started_at": period.started_at,
        "ended_at": period.ended_at,
    }
