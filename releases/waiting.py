"""Why a release is not moving, one sentence per reason: the one place pages and the API ask.

``reasons(releases)`` answers for many releases at once with a fixed number of queries (the
overview and the inbox show pages of them). A finished release has no reasons; a deploying one
says how its rollout goes, since that is what on-call watches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from core.models import JobRun
from releases import freeze
from releases.models import Approval, Environment, FreezeWindow, Release

DEPLOY_JOB = "releases.jobs.process_environment"


def reasons(releases: Iterable[Release], *, now: datetime | None = None) -> dict[int, list[str]]:
    """Why each release waits (an empty list when nothing holds it), by release id."""
    releases = list(releases)
    facts = _Facts.load(releases, now or timezone.now())
    return {release.pk: facts.why(release) for release in releases}


def annotate(releases: Iterable[Release], *, now: datetime | None = None) -> list[Release]:
    """``releases`` as a list, each with ``.waiting`` set to its reasons (for pages)."""
    releases = list(releases)
    found = reasons(releases, now=now)
    for release in releases:
        release.waiting = found[release.pk]  # type: ignore[attr-defined]
    return releases


@dataclass
class _Facts:
    """What the sentences need, read once for all the releases asked about (six queries)."""

    now: datetime
    environments: dict[int, Environment] = field(default_factory=dict)
    approvals: dict[int, int] = field(default_factory=dict)
    frozen: dict[int, tuple[str, datetime, str]] = field(default_factory=dict)
    passed: dict[tuple[int, str], datetime] = field(default_factory=dict)
    retrying: dict[int, JobRun] = field(default_factory=dict)

    @classmethod
    def load(cls, releases: list[Release], now: datetime) -> _Facts:
        facts = cls(now)
        ids = {r.environment_id for r in releases}
        facts.environments = Environment.objects.select_related("previous", "approver_group").in_bulk(ids)
        facts._count_approvals([r for r in releases if r.state == Release.State.REQUESTED])
        facts._find_freezes([r.environment_id for r in releases if r.state == Release.State.QUEUED])
        facts._find_promotions(
            [r for r in releases if r.state in (Release.State.REQUESTED, Release.State.SCHEDULED)]
        )
        facts._find_retries(
            [r.environment_id for r in releases if r.state in (Release.State.QUEUED, Release.State.DEPLOYING)]
        )
        return facts

    def _count_approvals(self, requested: list[Release]) -> None:
        wanted = {r.pk: r for r in requested}
        found = Approval.objects.filter(release_id__in=wanted, decision=Approval.Decision.APPROVE)
        counts: dict[int, int] = defaultdict(int)
        for release_id, digest, created_at in found.values_list("release_id", "digest", "created_at"):
            release = wanted[release_id]
            oldest = self.now - self.environments[release.environment_id].approval_validity
            if digest == release.digest and created_at >= oldest:
                counts[release_id] += 1
        self.approvals = dict(counts)

    def _find_freezes(self, environment_ids: list[int]) -> None:
        for window in FreezeWindow.objects.filter(environment_id__in=environment_ids):
            period = freeze.as_window(window).active_period(self.now)
            if period and window.environment_id not in self.frozen:
                self.frozen[window.environment_id] = (window.reason, period[1], window.timezone)

    def _find_promotions(self, requested: list[Release]) -> None:
        previous = {
            previous_id
            for r in requested
            if (previous_id := self.environments[r.environment_id].previous_id) is not None
        }
        digests = {r.digest for r in requested}
        found = Release.objects.filter(
            environment_id__in=previous, digest__in=digests, state=Release.State.SUCCEEDED
        ).values_list("environment_id", "digest", "finished_at")
        for environment_id, digest, finished_at in found:
            key = (environment_id, digest)
            if finished_at and (key not in self.passed or finished_at < self.passed[key]):
                self.passed[key] = finished_at

    def _find_retries(self, environment_ids: list[int]) -> None:
        runs = JobRun.objects.filter(
            name=DEPLOY_JOB,
            object_type="releases.environment",
            object_id__in=[str(pk) for pk in environment_ids],
            status=JobRun.Status.RETRYING,
        )
        self.retrying = {int(run.object_id): run for run in runs}

    # --- the sentences ----------------------------------------------------------------------

    def why(self, release: Release) -> list[str]:
        environment = self.environments[release.environment_id]
        if release.state == Release.State.REQUESTED:
            return self._approvals(release, environment) + self._promotion(release, environment)
        if release.state == Release.State.SCHEDULED and release.scheduled_for:
            # Approved while its candidate soaks in the previous environment: say that, not a time.
            return self._promotion(release, environment) or [
                f"scheduled for {release.scheduled_for:%Y-%m-%d %H:%M} UTC"
            ]
        if release.state == Release.State.QUEUED:
            return self._queue(release, environment)
        if release.state == Release.State.DEPLOYING:
            return self._rollout(release)
        return []

    def _approvals(self, release: Release, environment: Environment) -> list[str]:
        have, need = self.approvals.get(release.pk, 0), environment.required_approvals
        if have >= need:
            return []
        who = f" from {environment.approver_group.name}" if environment.approver_group else ""
        requester = "" if environment.allow_self_approval else "; the requester cannot approve"
        return [f"{have} of {need} approvals (needs {need - have} more{who}{requester})"]

    def _promotion(self, release: Release, environment: Environment) -> list[str]:
        previous = environment.previous
        if previous is None:
            return []
        passed = self.passed.get((previous.pk, release.digest))
        if passed is None:
            return [f"not yet released successfully to {previous.name}"]
        left = passed + timedelta(minutes=environment.soak_minutes) - self.now
        if left.total_seconds() > 0:
            return [f"soak: {max(1, round(left.total_seconds() / 60))} min left in {previous.name}"]
        return []

    def _queue(self, release: Release, environment: Environment) -> list[str]:
        frozen = self.frozen.get(environment.pk)
        if frozen and release.kind != Release.Kind.ROLLBACK and not release.break_glass_reason:
            reason, end, zone = frozen
            return [f"freeze window '{reason}' until {end.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}"]
        if environment.active_release_id and environment.active_release_id != release.pk:
            return [f"waiting for release #{environment.active_release_id}, deploying in this environment"]
        return self._job(environment) or ["waiting for a deploy worker"]

    def _rollout(self, release: Release) -> list[str]:
        progress = release.progress or {}
        said = []
        if progress:
            line = f"rollout: {progress.get('ready_replicas', 0)}/{progress.get('replicas', 0)} pods ready"
            problems = progress.get("pod_problems") or []
            said.append(f"{line}; {'; '.join(problems[:3])}" if problems else line)
        return said + self._job(self.environments[release.environment_id])

    def _job(self, environment: Environment) -> list[str]:
        run = self.retrying.get(environment.pk)
        if run is None:
            return []
        failed = max(run.attempts, 1)
        # The runner writes "attempt n of m failed, retrying at hh:mm:ss UTC: {exc}"; an exception
        # without a message leaves nothing after the colon.
        said = run.error.split(": ", 1)[-1].strip().splitlines()
        error = said[0][:200] if said else "no reason recorded"
        due = max(0, round((run.run_after - self.now).total_seconds())) if run.run_after else 0
        return [f"job failed {failed} time{'s' if failed != 1 else ''}: {error}; next retry in {due} s"]
