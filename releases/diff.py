"""What a release changes against what runs now: commits, model version and metrics, digests.

Reads rows only: the commits come from the lists builds recorded (``builds.history``), so the
release page and ``/releases/{id}/diff/`` never run git.
"""

from __future__ import annotations

from typing import Any

from builds import history
from models_registry.models import ModelVersion
from releases.models import Release


def metric_deltas(old: ModelVersion | None, new: ModelVersion | None) -> list[dict[str, Any]]:
    old_metrics = old.metrics if old else {}
    new_metrics = new.metrics if new else {}
    rows = []
    for name in sorted(set(old_metrics) | set(new_metrics)):
        a, b = old_metrics.get(name), new_metrics.get(name)
        delta = b - a if isinstance(a, int | float) and isinstance(b, int | float) else None
        rows.append({"metric": name, "from": a, "to": b, "delta": delta})
    return rows


def commit_fields(commits: history.CommitRange) -> dict[str, Any]:
    """A commit range as the ``commits*`` fields of a diff."""
    return {
        "commits": commits.commits,
        "commits_truncated": commits.truncated,
        "commits_note": commits.note,
        "commits_error": commits.error,
    }


def version_fields(old: ModelVersion | None, new: ModelVersion | None) -> dict[str, Any]:
    """The ``model_version`` and ``metrics`` fields of a diff from ``old`` to ``new``."""
    return {
        "model_version": {
            "from": str(old) if old else None,
            "to": str(new) if new else None,
            "changed": old != new,
        },
        "metrics": metric_deltas(old, new),
    }


def release_diff(release: Release) -> dict[str, Any]:
    running = (
        release.previous_release
        if release.state not in Release.WAITING
        else release.environment.current_release
    )
    old_version = running.model_version if running else None
    commits = history.commits_between(
        release.environment.application_id, running.commit if running else "", release.commit
    )
    return {
        "running_release": running.pk if running else None,
        "digest": {"from": running.digest if running else None, "to": release.digest},
        "commit": {"from": running.commit if running else None, "to": release.commit},
        **commit_fields(commits),
        **version_fields(old_version, release.model_version),
    }
