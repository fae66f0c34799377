"""Deploying releases: one at a time per environment, in order, resumable by another worker.

``process_environment`` takes the environment's deployment lock (``Environment.active_release``)
with a row lock, deploys the oldest queued release, watches the rollout to its end, records
each observed change as a :class:`RolloutEvent`, and moves on to the next queued release. The
deploying release carries a lease that a heartbeat extends; when a worker dies its lease runs
out and the recovery job hands the environment to another worker, which deploys the same
release id again (targets treat that as a no-op) and resumes watching.

What a deploy did to the target is kept on the release (``target_change``): the next release
expects the target to run what the product itself last set there, never the image of a
release that was refused, and only a change that was (or may have been) applied is rolled back.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import audit, jobrunner, logcontext
from core.errors import ServiceError
from core.heartbeat import Heartbeat
from integrations.deploy.base import DeploymentTarget, DeployRequest, RolloutStatus
from integrations.errors import IntegrationError, PermanentError, TemporaryError
from releases import services
from releases.models import Environment, Release, RolloutEvent, RunPeriod
from releases.targets import target_for

logger = logging.getLogger(__name__)
ACTOR = "job:deploy"
Change = Release.TargetChange
# Unconfirmed changes that may each be what runs; more than this in a row is not plausible.
MAX_UNCONFIRMED = 5


def lease_until() -> datetime:
    return timezone.now() + timedelta(seconds=settings.DEPLOY_LEASE_SECONDS)


def process_environment(environment_id: int) -> list[str]:
    """Deploy queued releases of one environment until none is left (or one must wait)."""
    outcomes = []
    while release := claim_next(environment_id):
        # The job names the environment; its lines about this release name the release too.
        with logcontext.bind(release_id=str(release.pk)):
            logger.info("release #%s: deploying %s to %s", release.pk, release.digest, release.environment)
            outcome = deploy(release)
            logger.info("release #%s: %s", release.pk, outcome)
        outcomes.append(f"#{release.pk}: {outcome}")
    return outcomes


def claim_next(environment_id: int) -> Release | None:
    """Take the environment's lock for the next release to deploy, or resume an orphaned one."""
    me = jobrunner.worker_id()
    with transaction.atomic():
        environment = Environment.objects.select_for_update().get(pk=environment_id)
        active = environment.active_release
        if active is not None and active.state == Release.State.DEPLOYING:
            if (
                active.lease_expires_at
                and active.lease_expires_at > timezone.now()
                and active.lease_owner != me
            ):
                _note_queue_waits(environment, f"waiting: release #{active.pk} is deploying")
                return None  # another worker is deploying it
            Release.objects.filter(pk=active.pk).update(
                lease_owner=me, lease_expires_at=lease_until(), state_reason=f"resumed by worker {me}"
            )
            RolloutEvent.objects.create(
                release=active, phase="progressing", message=f"resumed by worker {me}"
            )
            return active
        release = _next_eligible(environment)
        if release is None:
            Environment.objects.filter(pk=environment.pk).update(active_release=None)
            return None
        services.transition(
            release,
            Release.State.DEPLOYING,
            actor=ACTOR,
            reason=f"deploying (worker {me})",
            lease_owner=me,
            lease_expires_at=lease_until(),
        )
        Environment.objects.filter(pk=environment.pk).update(active_release=release)
        _note_queue_waits(environment, f"waiting: release #{release.pk} is deploying")
        return release


def _next_eligible(environment: Environment) -> Release | None:
    """Rollbacks first, then releases in the order they were queued; skips what must wait."""
    queued = environment.releases.filter(state=Release.State.QUEUED).select_related("environment", "image")
    frozen = services.active_freeze(environment)
    for release in queued.order_by("-kind", "queued_at", "pk"):  # "rollback" sorts after "deploy"
        if release.kind == Release.Kind.ROLLBACK or release.break_glass_reason:
            return release
        if frozen is not None:
            _note_waiting(release, f"waiting: {environment.name} is frozen ({frozen.reason})")
            continue
        if (
            environment.required_approvals
            and services.valid_approvals(release).count() < environment.required_approvals
        ):
            services.transition(
                release,
                Release.State.EXPIRED,
                actor=ACTOR,
                reason="its approvals lapsed before it could deploy",
            )
            continue
        return release
    return None


def _note_waiting(release: Release, reason: str) -> None:
    if release.state_reason != reason:
        Release.objects.filter(pk=release.pk).update(state_reason=reason)


def _note_queue_waits(environment: Environment, reason: str) -> None:
    """Queued releases behind the one deploying say so (not audited: a wait, not a change)."""
    environment.releases.filter(state=Release.State.QUEUED).exclude(state_reason=reason).update(
        state_reason=reason
    )


class Recorder:
    """Records each observed change of the rollout as it happens (a repeat of the last is skipped)."""

    def __init__(self, release: Release) -> None:
        self.release = release
        self.last: dict | None = None

    def __call__(self, status: RolloutStatus) -> None:
        detail = asdict(status)
        seen = {
            k: detail[k]
            for k in (
                "phase",
                "message",
                "ready_replicas",
                "updated_replicas",
                "available_replicas",
                "pod_problems",
            )
        }
        if seen == self.last:
            return
        self.last = seen
        RolloutEvent.objects.create(
            release=self.release, phase=status.phase, message=status.message, detail=detail
        )
        Release.objects.filter(pk=self.release.pk).update(
            progress=detail, lease_expires_at=lease_until(), state_reason=f"rolling out: {status.message}"
        )


# --- what the target is expected to run ------------------------------------------------------------


def last_set_on_target(environment_id: int, *, excluding: int | None = None) -> list[Release]:
    """The releases whose image the target may run: the last one whose change was applied, and
    any later ones whose change may have been (newest first). Refused releases never count."""
    candidates = Release.objects.filter(
        environment_id=environment_id, target_change__in=[Change.APPLIED, Change.UNKNOWN]
    )
    if excluding is not None:
        candidates = candidates.exclude(pk=excluding)
    candidates = candidates.select_related("image").order_by("-started_at", "-pk")
    chain = []
    for release in candidates[: MAX_UNCONFIRMED + 1]:
        chain.append(release)
        if release.target_change == Change.APPLIED:
            break
    return chain


def deploy_request(release: Release) -> DeployRequest:
    chain = last_set_on_target(release.environment_id, excluding=release.pk)
    version = release.model_version
    return DeployRequest(
        release_id=str(release.pk),
        image=release.image.reference,
        expected_images=tuple(dict.fromkeys(r.image.reference for r in chain)),
        expected_from=" or ".join(f"release #{r.pk}" for r in chain),
        model_name=version.model.name if version else "",
        model_version=str(version.version) if version else "",
        change_cause=f"{release.kind} #{release.pk}: {release.environment} to {release.digest[:19]} ({version})",
    )


# --- deploying ---------------------------------------------------------------------------------------


def deploy(release: Release) -> str:
    """Roll ``release`` out and watch it to its end; every way out ends the release or retries it."""
    environment = release.environment
    beat = Heartbeat(
        f"lease-release-{release.pk}",
        settings.DEPLOY_LEASE_SECONDS / 3,
        lambda: Release.objects.filter(pk=release.pk, lease_owner=jobrunner.worker_id()).update(
            lease_expires_at=lease_until()
        ),
    )
    try:
        with beat:
            target = target_for(environment)
            record = Recorder(release)
            status = _apply(release, target)
            record(status)
            if not status.done:
                status = target.watch(record, timeout=environment.rollout_timeout)
    except TemporaryError as exc:
        return _temporary(release, exc)
    except (IntegrationError, ServiceError) as exc:
        return finish(release, succeeded=False, reason=str(exc))
    except Exception as exc:  # a bug or a setting nobody foresaw must not leave it deploying
        logger.exception("release #%s: unexpected error while deploying", release.pk)
        return finish(
            release,
            succeeded=False,
            reason=f"unexpected error while deploying ({type(exc).__name__}: {exc}); see the deploy worker's log",
        )
    return finish(release, succeeded=status.phase == "succeeded", reason=status.message)


def _apply(release: Release, target: DeploymentTarget) -> RolloutStatus:
    """Change the target, keeping on the release what that did to it."""
    request = deploy_request(release)
    pending = Release.objects.filter(pk=release.pk).exclude(target_change=Change.APPLIED)
    pending.update(target_change=Change.UNKNOWN)  # a worker dying inside the call leaves "unknown"
    try:
        status = target.deploy(request)
    except (PermanentError, ServiceError):
        pending.update(target_change=Change.REFUSED)  # a permanent refusal changes nothing
        raise
    pending.update(target_change=Change.APPLIED, applied_at=timezone.now())
    release.refresh_from_db(fields=["target_change", "applied_at"])
    return status


def _temporary(release: Release, exc: TemporaryError) -> str:
    run = jobrunner.current_run()
    if run is None or jobrunner.is_last_attempt():
        return finish(release, succeeded=False, reason=f"gave up after repeated errors: {exc}")
    delay = jobrunner.retry_delay(run, exc)
    reason = (
        f"temporary error on attempt {run.attempts} of {run.max_attempts}, "
        f"retrying in about {delay:.0f}s: {exc}"
    )
    RolloutEvent.objects.create(release=release, phase="progressing", message=reason)
    # Let the lease lapse so the retry (any worker) resumes this release, then retry the job.
    Release.objects.filter(pk=release.pk).update(
        lease_expires_at=timezone.now(), lease_owner="", state_reason=reason
    )
    raise exc


def finish(release: Release, *, succeeded: bool, reason: str) -> str:
    """End the deployment: release state, what runs where, the lock and the audit in one transaction."""
    with transaction.atomic():
        environment = Environment.objects.select_for_update().get(pk=release.environment_id)
        if succeeded:
            services.transition(release, Release.State.SUCCEEDED, actor=ACTOR, reason=reason)
            _now_runs(environment, release)
            _after_success(release)
            return "succeeded"
        services.transition(release, Release.State.FAILED, actor=ACTOR, reason=reason)
        Environment.objects.filter(pk=environment.pk).update(active_release=None)
        if release.kind == Release.Kind.DEPLOY and environment.auto_rollback:
            _roll_back_automatically(environment, release, reason)
    return f"failed: {reason}"


def _now_runs(environment: Environment, release: Release) -> None:
    before = environment.current_release_id
    now = timezone.now()
    Environment.objects.filter(pk=environment.pk).update(
        current_release=release, active_release=None, drift=""
    )
    RunPeriod.objects.filter(environment=environment, ended_at__isnull=True).update(ended_at=now)
    RunPeriod.objects.create(environment=environment, release=release, started_at=now)
    audit.record(
        "environment.now_runs",
        environment,
        actor=ACTOR,
        before={"release": before},
        after={"release": release.pk, "digest": release.digest},
    )


def _roll_back_automatically(environment: Environment, failed: Release, reason: str) -> None:
    if not failed.may_run:
        RolloutEvent.objects.create(
            release=failed,
            phase="failed",
            message="no automatic rollback: the target was not changed, so what ran before still runs",
        )
        return
    try:
        rollback = services.rollback(
            environment, actor=ACTOR, reason=f"release #{failed.pk} failed: {reason}", failed=failed
        )
    except ServiceError as exc:
        RolloutEvent.objects.create(
            release=failed, phase="failed", message=f"no automatic rollback: {exc.message}"
        )
    else:
        RolloutEvent.objects.create(
            release=failed, phase="failed", message=f"rolling back with release #{rollback.pk}"
        )


def _after_success(release: Release) -> None:
    """A rollback marks what it replaced as rolled back; older waiting releases are superseded."""
    if release.kind == Release.Kind.ROLLBACK and (replaced := release.rollback_of) is not None:
        why = (
            f"{replaced.state_reason}; "
            if replaced.state == Release.State.FAILED and replaced.state_reason
            else ""
        )
        services.transition(
            replaced,
            Release.State.ROLLED_BACK,
            actor=ACTOR,
            reason=f"{why}rolled back by release #{release.pk}",
        )
    older = release.environment.releases.filter(
        state__in=[Release.State.REQUESTED, Release.State.APPROVED],
        requested_at__lt=release.requested_at,
        kind=Release.Kind.DEPLOY,
    )
    for stale in older:
        services.transition(
            stale, Release.State.SUPERSEDED, actor=ACTOR, reason=f"release #{release.pk} went out after it"
        )
