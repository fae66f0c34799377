"""What a release changes against what runs now: commits, model version and metrics, digests."""

from __future__ import annotations

from typing import Any

from builds.integration import get_git_cache
from integrations import git
from integrations.errors import IntegrationError
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


def _commits(release: Release, old_commit: str) -> tuple[list[dict[str, Any]], str]:
    if not release.commit or old_commit == release.commit:
        return [], ""
    application = release.environment.application
    try:
        commits = git.commits_between(
            application.repository_url, old_commit, release.commit, cache=get_git_cache()
        )
    except IntegrationError as exc:
        return [], f"commits unavailable: {exc}"
    return [
        {"sha": c.sha, "author": c.author, "date": c.date.isoformat(), "subject": c.subject} for c in commits
    ], ""


def release_diff(release: Release) -> dict[str, Any]:
    running = (
        release.previous_release
        if release.state not in Release.WAITING
        else release.environment.current_release
    )
    old_version = running.model_version if running else None
    commits, commits_error = _commits(release, running.commit if running else "")
    return {
        "running_release": running.pk if running else None,
        "digest": {"from": running.digest if running else None, "to": release.digest},
        "commit": {"from": running.commit if running else None, "to": release.commit},
        "commits": commits,
        "commits_error": commits_error,
        "model_version": {
            "from": str(old_version) if old_version else None,
            "to": str(release.model_version) if release.model_version else None,
            "changed": old_version != release.model_version,
        },
        "metrics": metric_deltas(old_version, release.model_version),
    }
