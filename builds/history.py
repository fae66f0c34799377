"""Commit lists of builds: what a build records when it succeeds, and what lies between two builds.

The build job reads the list from git (``builds.gitwork.read_history``) and stores it as
``BuildCommit`` rows; everything here reads those rows only, so a release page never runs git.
A list holds at most ``BUILD_HISTORY_COMMITS`` commits: when what runs lies further back, the
difference says so instead of listing everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from builds.models import Build, BuildCommit
from integrations.git import CommitInfo


@dataclass(frozen=True)
class RecordedHistory:
    """The last commits of a build's history, newest first, or why they could not be read."""

    commits: list[CommitInfo] = field(default_factory=list)
    complete: bool = False
    error: str = ""


@dataclass
class CommitRange:
    """The commits a candidate brings against what runs, for people to read."""

    commits: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False  # older commits belong to the range but are not listed
    note: str = ""  # how to read the list (cut, the candidate is older, another branch)
    error: str = ""  # why there is no list


def _recorded_build(application_id: int, sha: str) -> Build | None:
    """The newest build of this commit that recorded its commit list."""
    return (
        Build.objects.filter(application_id=application_id, commit=sha, history_recorded_at__isnull=False)
        .order_by("-history_recorded_at", "-pk")
        .first()
    )


def _rows(build: Build) -> list[BuildCommit]:
    return list(build.history.all())


def _missing(application_id: int, sha: str) -> str:
    failed = (
        Build.objects.filter(application_id=application_id, commit=sha)
        .exclude(history_error="")
        .values_list("history_error", flat=True)
        .first()
    )
    if failed:
        return f"commits unavailable: the build of {sha[:10]} could not record its commit list: {failed}"
    return f"commits unavailable: no build of {sha[:10]} recorded its commit list"


def _as_dicts(rows: list[BuildCommit]) -> list[dict[str, Any]]:
    return [
        {"sha": r.sha, "author": r.author, "date": r.authored_at.isoformat(), "subject": r.subject}
        for r in rows
    ]


def commits_between(application_id: int, old: str, new: str) -> CommitRange:
    """The commits of ``new`` that ``old`` (what runs; "" for nothing) does not have, newest first."""
    if not new or old == new:
        return CommitRange()
    new_build = _recorded_build(application_id, new)
    if new_build is None:
        return CommitRange(error=_missing(application_id, new))
    rows, cut = _rows(new_build), not new_build.history_complete
    if not old:
        return _range(rows, cut=cut)
    old_build = _recorded_build(application_id, old)
    if old_build is None:
        return _against_unrecorded(rows, cut, old)
    return _against(rows, cut, old, new, _rows(old_build))


def _against(
    rows: list[BuildCommit], cut: bool, old: str, new: str, old_rows: list[BuildCommit]
) -> CommitRange:
    """Both lists are known: the candidate's commits that are not in what runs."""
    known = [r.sha for r in old_rows]  # ``old`` itself first
    if old in {r.sha for r in rows}:  # what runs is an ancestor of the candidate
        return _range([r for r in rows if r.sha not in known])
    if new in known:  # the candidate is an ancestor of what runs
        count = known.index(new)
        return CommitRange(
            note=f"The candidate is older than what runs: it takes out {count} commit{'s' * (count != 1)}."
        )
    if cut:  # what runs lies further back than the candidate's list reaches
        return _range([r for r in rows if r.sha not in known], cut=True)
    return CommitRange(
        commits=_as_dicts([r for r in rows if r.sha not in known]),
        note=f"What runs ({old[:10]}) is on another branch; listed: the candidate's commits it lacks.",
    )


def _against_unrecorded(rows: list[BuildCommit], cut: bool, old: str) -> CommitRange:
    """What runs has no list (e.g. an image found by the tag sync): a straight line back to it."""
    shas = [r.sha for r in rows]
    if old in shas:
        return _range(rows[: shas.index(old)])
    if cut:
        return _range(rows, cut=True)
    return CommitRange(
        note=f"What runs ({old[:10]}) is not in the candidate's history: newer code or another branch."
    )


def _range(rows: list[BuildCommit], *, cut: bool = False) -> CommitRange:
    note = f"{len(rows)}+ commits, older ones not listed" if cut else ""
    return CommitRange(commits=_as_dicts(rows), truncated=cut, note=note)
