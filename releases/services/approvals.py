"""Approvals (four eyes): who may approve, how many are still needed, approving and rejecting."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core import audit
from core.audit import Actor
from core.errors import ConflictError, ForbiddenError
from releases.models import Approval, Environment, Release
from releases.services.lifecycle import enqueue, transition


def approvals_wait(environment: Environment, count: int) -> str:
    required = environment.required_approvals
    if count >= required:
        return ""
    group = environment.approver_group if environment.approver_group_id else None
    from_group = f" from the {group.name} group" if group else ""
    return f"waiting for approvals: {count} of {required}{from_group}"


def valid_approvals(release: Release, *, now: datetime | None = None) -> QuerySet[Approval]:
    """Approvals that still count: for this exact candidate, and younger than the validity."""
    oldest = (now or timezone.now()) - release.environment.approval_validity
    return release.approvals.filter(
        decision=Approval.Decision.APPROVE, digest=release.digest, created_at__gte=oldest
    ).select_related("approver")


def can_approve(release: Release, user: Any) -> str | None:
    """Why ``user`` may not approve ``release`` (None when they may); the rules are in
    :mod:`releases.inbox`, which applies them to a whole page at once."""
    from releases.inbox import approval_refusals

    return approval_refusals([release], user)[release.pk]


def approve(release: Release, *, actor: Any, comment: str = "") -> Release:
    refusal = can_approve(release, actor)
    if refusal:
        raise ForbiddenError(refusal)
    with transaction.atomic():
        release = Release.objects.select_for_update().select_related("environment").get(pk=release.pk)
        if release.state != Release.State.REQUESTED:
            raise ConflictError(f"{release} is {release.state}; only requested releases take approvals.")
        if valid_approvals(release).filter(approver=actor).exists():
            raise ConflictError("You already approved this candidate; an approval counts once per person.")
        Approval.objects.filter(
            release=release, approver=actor, digest=release.digest
        ).delete()  # an aged one
        Approval.objects.create(
            release=release,
            approver=actor,
            decision=Approval.Decision.APPROVE,
            digest=release.digest,
            comment=comment,
        )
        count = valid_approvals(release).count()
        audit.record(
            "release.approve",
            release,
            actor=actor,
            after={"approvals": count, "required": release.environment.required_approvals},
        )
        if count >= release.environment.required_approvals:
            mark_approved(release, actor=actor)
        else:
            Release.objects.filter(pk=release.pk).update(
                state_reason=approvals_wait(release.environment, count)
            )
    release.refresh_from_db()
    return release


def mark_approved(release: Release, *, actor: Actor) -> None:
    """Enough approvals: queue the release now, or hold it for its scheduled time."""
    transition(release, Release.State.APPROVED, actor=actor)
    if release.scheduled_for and release.scheduled_for > timezone.now():
        transition(
            release,
            Release.State.SCHEDULED,
            actor=actor,
            reason=f"waits for {release.scheduled_for:%Y-%m-%d %H:%M} UTC",
        )
    else:
        enqueue(release, actor=actor)


def reject(release: Release, *, actor: Any, comment: str = "") -> Release:
    refusal = can_approve(release, actor)
    if refusal and "four-eyes" not in refusal:  # a requester may withdraw their own by rejecting it
        raise ForbiddenError(refusal)
    with transaction.atomic():
        Approval.objects.update_or_create(
            release=release,
            approver=actor,
            digest=release.digest,
            defaults={"decision": Approval.Decision.REJECT, "comment": comment, "created_at": timezone.now()},
        )
        if not transition(
            release, Release.State.REJECTED, actor=actor, reason=comment or f"rejected by {actor}"
        ):
            raise ConflictError(f"{release} is {release.state}; it can no longer be rejected.")
    return release
