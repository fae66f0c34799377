"""Deploying releases: one at a time per environment, in order, resumable by another worker.

``process_environment`` takes the environment's deployment lock (``Environment.active_release``)
with a row lock, deploys the oldest queued release, watches the rollout to its end, records
each observed change as a :class:`RolloutEvent`, and moves on to the next queued release. The
deploying release carries a lease that a heartbeat extends; when a worker dies its lease runs
out and the recovery job hands the environment to another worker, which deploys the same
release id again (targets treat that as a no-op) and resumes watching.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import asdict
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from dashboard import jobrunner
from dashboard.errors import ServiceError
from integrations.deploy.base import DeployRequest, RolloutStatus
from integrations.errors import IntegrationError, TemporaryError
from releases import services
from releases.models import Environment, Release, RolloutEvent
from releases.targets import target_for

logger = logging.getLogger(__name__)
ACTOR = "job:deploy"
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def lease_until() -> timezone.datetime:
    return timezone.now() + timedelta(seconds=settings.DEPLOY_LEASE_SECONDS)


def process_environment(environment_id: int) -> list[str]:
    """Deploy queued releases of one environment until none is left (or one must wait)."""
    outcomes = []
    while release := claim_next(environment_id):
        outcomes.append(f"#{release.pk}: {deploy(release)}")
    return outcomes


def claim_next(environment_id: int) -> Release | None:
    """Take the environment's lock for the next release to deploy, or resume an orphaned one."""
    with transaction.atomic():
        environment = Environment.objects.select_for_update().get(pk=environment_id)
        active = environment.active_release
        if active is not None and active.state == Release.State.DEPLOYING:
            if (
                active.lease_expires_at
                and active.lease_expires_at > timezone.now()
                and active.lease_owner != WORKER_ID
            ):
                return None  # another worker is deploying it
            Release.objects.filter(pk=active.pk).update(lease_owner=WORKER_ID, lease_expires_at=lease_until())
            RolloutEvent.objects.create(
                release=active, phase="progressing", message=f"resumed by worker {WORKER_ID}"
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
            lease_owner=WORKER_ID,
            lease_expires_at=lease_until(),
        )
        Environment.objects.filter(pk=environment.pk).update(active_release=release)
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


class Lease(threading.Thread):
    """Extends the deploying release's lease while this worker is alive."""

    def __init__(self, release_id: int) -> None:
        super().__init__(daemon=True, name=f"lease-release-{release_id}")
        self.release_id = release_id
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(settings.DEPLOY_LEASE_SECONDS / 3):
                Release.objects.filter(pk=self.release_id, lease_owner=WORKER_ID).update(
                    lease_expires_at=lease_until()
                )
        finally:
            connection.close()


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
        Release.objects.filter(pk=self.release.pk).update(progress=detail, lease_expires_at=lease_until())


def deploy_request(release: Release) -> DeployRequest:
    last = (
        Release.objects.filter(environment=release.environment, started_at__isnull=False)
        .exclude(pk=release.pk)
        .select_related("image")
        .order_by("-started_at", "-pk")
        .first()
    )
    version = release.model_version
    return DeployRequest(
        release_id=str(release.pk),
        image=release.image.reference,
        expected_image=last.image.reference if last else None,
        model_name=version.model.name if version else "",
        model_version=str(version.version) if version else "",
        change_cause=f"{release.kind} #{release.pk}: {release.environment} to {release.digest[:19]} ({version})",
    )


def deploy(release: Release) -> str:
    environment = release.environment
    lease = Lease(release.pk)
    lease.start()
    try:
        target = target_for(environment)
        record = Recorder(release)
        status = target.deploy(deploy_request(release))
        record(status)
        if not status.done:
            status = target.watch(record, timeout=environment.rollout_timeout)
    except TemporaryError as exc:
        return _temporary(release, exc)
    except (IntegrationError, ServiceError) as exc:
        return finish(release, succeeded=False, reason=str(exc))
    finally:
        lease.stopped.set()
    return finish(release, succeeded=status.phase == "succeeded", reason=status.message)


def _temporary(release: Release, exc: TemporaryError) -> str:
    RolloutEvent.objects.create(
        release=release, phase="progressing", message=f"temporary error, will retry: {exc}"
    )
    if jobrunner.is_last_attempt():
        return finish(release, succeeded=False, reason=f"gave up after repeated errors: {exc}")
    # Let the lease lapse so the retry (any worker) resumes this release, then retry the job.
    Release.objects.filter(pk=release.pk).update(lease_expires_at=timezone.now(), lease_owner="")
    raise exc


def finish(release: Release, *, succeeded: bool, reason: str) -> str:
    environment = release.environment
    if succeeded:
        services.transition(release, Release.State.SUCCEEDED, actor=ACTOR, reason=reason)
        Environment.objects.filter(pk=environment.pk).update(
            current_release=release, active_release=None, drift=""
        )
        _after_success(release)
        return "succeeded"
    services.transition(release, Release.State.FAILED, actor=ACTOR, reason=reason)
    Environment.objects.filter(pk=environment.pk).update(active_release=None)
    if release.kind == Release.Kind.DEPLOY and environment.auto_rollback:
        try:
            rollback = services.rollback(
                environment, actor=ACTOR, reason=f"release #{release.pk} failed: {reason}", failed=release
            )
        except ServiceError as exc:
            RolloutEvent.objects.create(
                release=release, phase="failed", message=f"no automatic rollback: {exc.message}"
            )
        else:
            RolloutEvent.objects.create(
                release=release, phase="failed", message=f"rolling back with release #{rollback.pk}"
            )
    return f"failed: {reason}"


def _after_success(release: Release) -> None:
    """A rollback marks what it replaced as rolled back; older waiting releases are superseded."""
    if release.kind == Release.Kind.ROLLBACK and release.rollback_of_id:
        replaced = release.rollback_of
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
