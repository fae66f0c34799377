"""Requesting a release: the candidate, the promotion and freeze checks, cancelling and changing it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from builds.models import Build, Image
from core import audit
from core.audit import Actor
from core.errors import ConflictError, ForbiddenError, ServiceError
from releases.models import Environment, Release
from releases.services.approvals import approvals_wait, mark_approved
from releases.services.lifecycle import kick, transition


def candidate(*, build: Build | None, image: Image | None) -> tuple[Image, Build | None]:
    if build is not None:
        if build.state != Build.State.SUCCEEDED or build.image is None:
            raise ConflictError(
                f"{build} is {build.state}; only a succeeded build with an image can be released."
            )
        return build.image, build
    if image is None:
        raise ServiceError("Name a succeeded build or an image to release.")
    return image, image.builds.filter(state=Build.State.SUCCEEDED).first()


def check_candidate(
    environment: Environment, image: Image, *, now: datetime | None = None
) -> datetime | None:
    """Refuse a candidate this environment cannot take; returns when its soak time in the
    previous environment ends, if that is still ahead (see :func:`check_promotion`)."""
    if image.application_id not in (None, environment.application_id):
        raise ServiceError(f"{image} belongs to {image.application}, not {environment.application}.")
    if image.model_version is None:
        raise ConflictError(
            f"{image} has no known model version ({image.lineage_problem}); it cannot be released."
        )
    if not image.model_version.is_releasable:
        raise ConflictError(f"{image.model_version.unusable_reason()}; it cannot be released.")
    return check_promotion(environment, image, now=now or timezone.now())


def check_promotion(environment: Environment, image: Image, *, now: datetime) -> datetime | None:
    """The candidate must have succeeded in the previous environment, and soaked there long enough.

    Not succeeded there: refused. Succeeded but still soaking: returns when the soak time ends
    (the release may be requested and approved meanwhile, and deploys no earlier); else None.
    """
    previous = environment.previous
    if previous is None:
        return None
    passed = (
        Release.objects.filter(environment=previous, digest=image.digest, state=Release.State.SUCCEEDED)
        .order_by("finished_at")
        .first()
    )
    if passed is None or passed.finished_at is None:  # (a succeeded release always has finished_at)
        raise ConflictError(f"This image has not been released successfully to {previous.name} yet.")
    soaked_at = passed.finished_at + timedelta(minutes=environment.soak_minutes)
    return soaked_at if soaked_at > now else None


def _soak_refusal(environment: Environment, soaked_at: datetime) -> ConflictError:
    previous = environment.previous.name if environment.previous else "the previous environment"
    return ConflictError(f"It must run in {previous} until {soaked_at:%Y-%m-%d %H:%M} UTC (soak time).")


def request_release(
    environment: Environment,
    *,
    build: Build | None = None,
    image: Image | None = None,
    actor: Actor,
    scheduled_for: datetime | None = None,
    note: str = "",
    schedule: Any = None,
) -> Release:
    image, build = candidate(build=build, image=image)
    soaked_at = check_candidate(environment, image)
    if scheduled_for is not None and scheduled_for <= timezone.now():
        raise ServiceError("The scheduled time is in the past.", field="scheduled_for")
    if soaked_at is not None:
        if schedule is not None:
            raise _soak_refusal(environment, soaked_at)  # a schedule takes the next slot instead
        # Approvals can be collected while it soaks; once approved it waits until the soak ends.
        scheduled_for = max(scheduled_for or soaked_at, soaked_at)
    with transaction.atomic():
        release = Release.objects.create(
            environment=environment,
            build=build,
            image=image,
            digest=image.digest,
            model_version=image.model_version,
            commit=image.commit,
            requested_by=audit.user_of(actor),
            scheduled_for=scheduled_for,
            schedule=schedule,
            note=note,
            previous_release=environment.current_release,
            state_reason=approvals_wait(environment, 0),
        )
        after = {"state": release.state, "digest": image.digest, "model_version": str(image.model_version)}
        audit.record("release.request", release, actor=actor, after=after)
        if environment.required_approvals == 0:
            mark_approved(release, actor=actor)
    return release


def _requester_or_manager(release: Release, actor: Any, doing: str) -> None:
    if (
        hasattr(actor, "has_perm")
        and release.requested_by_id != actor.pk
        and not actor.has_perm("releases.approve_release")
    ):
        raise ForbiddenError(f"Only the requester or a release manager can {doing} this release.")


def cancel(release: Release, *, actor: Any, reason: str = "") -> Release:
    _requester_or_manager(release, actor, "cancel")
    if release.state not in Release.WAITING:
        raise ConflictError(f"{release} is {release.state}; only waiting releases can be cancelled.")
    if not transition(
        release, Release.State.CANCELLED, actor=actor, reason=reason or f"cancelled by {actor}"
    ):
        raise ConflictError(f"{release} moved on; it can no longer be cancelled.")
    return release


def change_candidate(
    release: Release, *, build: Build | None = None, image: Image | None = None, actor: Actor
) -> Release:
    """Point a waiting release at another candidate: its approvals lapse (they were for the old digest)."""
    _requester_or_manager(release, actor, "change the candidate of")
    if release.state not in (Release.State.REQUESTED, Release.State.APPROVED, Release.State.SCHEDULED):
        raise ConflictError(f"{release} is {release.state}; its candidate can no longer change.")
    image, build = candidate(build=build, image=image)
    soaked_at = check_candidate(release.environment, image)
    if soaked_at is not None and (release.scheduled_for is None or release.scheduled_for < soaked_at):
        raise _soak_refusal(release.environment, soaked_at)
    with transaction.atomic():
        before = release.audit_state()
        Release.objects.filter(pk=release.pk).update(
            image=image,
            digest=image.digest,
            model_version=image.model_version,
            commit=image.commit,
            build=build,
        )
        release.refresh_from_db()
        audit.record(
            "release.change_candidate", release, actor=actor, before=before, after=release.audit_state()
        )
        if release.state != Release.State.REQUESTED:
            transition(
                release, Release.State.REQUESTED, actor=actor, reason="candidate changed: approvals lapsed"
            )
    return release


def allow_break_glass(release: Release, *, actor: Any, reason: str) -> Release:
    """An admin lets one release deploy during a freeze; the reason is kept and audited."""
    if not actor.has_perm("releases.break_glass"):
        raise ForbiddenError("Only admins may break glass.")
    if not reason.strip():
        raise ServiceError("Breaking glass needs a reason.", field="reason")
    with transaction.atomic():
        Release.objects.filter(pk=release.pk).update(break_glass_reason=reason.strip())
        release.refresh_from_db()
        audit.record("release.break_glass", release, actor=actor, after={"reason": reason.strip()})
    kick(release.environment)
    return release
