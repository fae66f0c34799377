"""Every change to environments and releases goes through these functions, each audited.

Release states move only through :func:`transition`, which checks ``Release.TRANSITIONS``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from builds.models import Build, Image
from core import audit, jobrunner, transitions
from core.audit import Actor
from core.errors import ConflictError, ForbiddenError, NotFoundError, ServiceError
from releases import freeze, rules, scheduling
from releases.models import Approval, Environment, FreezeWindow, Release, RuleChange, Schedule

ENVIRONMENT_FIELDS = (
    "order",
    "previous",
    "soak_minutes",
    "target_kind",
    "target_config",
    "required_approvals",
    "approver_group",
    "allow_self_approval",
    "approval_validity_hours",
    "auto_rollback",
    "rollout_timeout",
)


# --- environments ---------------------------------------------------------------------------------


def _check_environment(environment: Environment) -> None:
    from releases.targets import validate_target_config

    validate_target_config(environment.target_kind, environment.target_config)
    if environment.previous_id and environment.previous.application_id != environment.application_id:
        raise ServiceError("The previous environment must belong to the same application.", field="previous")
    if environment.previous_id and environment.previous_id == environment.pk:
        raise ServiceError("An environment cannot follow itself.", field="previous")


def create_environment(fields: dict[str, Any], *, actor: Actor) -> Environment:
    """Create an environment; approval rules weaker than the defaults are only proposed (see
    :mod:`releases.rules`) when a person asks, and wait in ``environment.rule_changes``."""
    weaker: dict[str, list[Any]] = {}
    if rules.by_a_person(actor):
        fields, weaker = rules.split(Environment(**rules.DEFAULTS), fields)
    environment = Environment(**fields)
    environment.full_clean(validate_unique=False)
    _check_environment(environment)
    try:
        with transaction.atomic():
            environment.save()
            audit.record("environment.create", environment, actor=actor, after=environment.audit_state())
            if weaker:
                rules.propose(environment, weaker, actor=actor, reason="asked for when it was created")
    except IntegrityError:
        raise ConflictError(f"{environment} already exists.", field="name") from None
    return environment


def update_environment(
    environment: Environment, fields: dict[str, Any], *, actor: Actor
) -> tuple[Environment, RuleChange | None]:
    """Change an environment's settings. A person's change that weakens the approval rules is
    only proposed, for a second person to approve (:mod:`releases.rules`); it is returned."""
    with transaction.atomic():
        environment = Environment.objects.select_for_update().get(pk=environment.pk)
        fields = {name: value for name, value in fields.items() if name in ENVIRONMENT_FIELDS}
        weaker: dict[str, list[Any]] = {}
        if rules.by_a_person(actor):
            fields, weaker = rules.split(environment, fields)
        before = environment.audit_state()
        for name, value in fields.items():
            setattr(environment, name, value)
        environment.full_clean(validate_unique=False)
        _check_environment(environment)
        environment.save()
        audit.record_update(
            "environment.update", environment, actor=actor, before=before, after=environment.audit_state()
        )
        proposed = rules.propose(environment, weaker, actor=actor) if weaker else None
    return environment, proposed


# --- transitions ------------------------------------------------------------------------------------


def transition(release: Release, to: str, *, actor: Actor, reason: str = "", **fields: Any) -> bool:
    """Move ``release`` to ``to`` when its current state allows it; audited. False if it had moved on."""
    now = timezone.now()
    stamps = {Release.State.QUEUED: "queued_at", Release.State.DEPLOYING: "started_at"}
    if to in stamps:
        fields.setdefault(stamps[to], now)
    if to in (Release.State.SUCCEEDED, Release.State.FAILED, *Release.FINAL):
        fields.setdefault("finished_at", now)
    return transitions.move(release, to, action_prefix="release", actor=actor, state_reason=reason, **fields)


# --- requesting ------------------------------------------------------------------------------------


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


def check_candidate(environment: Environment, image: Image, *, now: datetime | None = None) -> None:
    if image.application_id not in (None, environment.application_id):
        raise ServiceError(f"{image} belongs to {image.application}, not {environment.application}.")
    if image.model_version is None:
        raise ConflictError(
            f"{image} has no known model version ({image.lineage_problem}); it cannot be released."
        )
    if not image.model_version.is_releasable:
        raise ConflictError(f"{image.model_version.unusable_reason()}; it cannot be released.")
    check_promotion(environment, image, now=now or timezone.now())


def check_promotion(environment: Environment, image: Image, *, now: datetime) -> None:
    """The candidate must have succeeded in the previous environment, and soaked there long enough."""
    previous = environment.previous
    if previous is None:
        return
    passed = (
        Release.objects.filter(environment=previous, digest=image.digest, state=Release.State.SUCCEEDED)
        .order_by("finished_at")
        .first()
    )
    if passed is None:
        raise ConflictError(f"This image has not been released successfully to {previous.name} yet.")
    soaked_at = passed.finished_at + timezone.timedelta(minutes=environment.soak_minutes)
    if soaked_at > now:
        raise ConflictError(
            f"It must run in {previous.name} until {soaked_at:%Y-%m-%d %H:%M} UTC (soak time)."
        )


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
    check_candidate(environment, image)
    if scheduled_for is not None and scheduled_for <= timezone.now():
        raise ServiceError("The scheduled time is in the past.", field="scheduled_for")
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
            _approved(release, actor=actor)
    return release


# --- approvals -------------------------------------------------------------------------------------


def approvals_wait(environment: Environment, count: int) -> str:
    required = environment.required_approvals
    if count >= required:
        return ""
    group = f" from the {environment.approver_group.name} group" if environment.approver_group_id else ""
    return f"waiting for approvals: {count} of {required}{group}"


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
            _approved(release, actor=actor)
        else:
            Release.objects.filter(pk=release.pk).update(
                state_reason=approvals_wait(release.environment, count)
            )
    release.refresh_from_db()
    return release


def _approved(release: Release, *, actor: Actor) -> None:
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


def enqueue(release: Release, *, actor: Actor, reason: str = "") -> None:
    """Queue the release for its environment; one deployment at a time, in order."""
    if transition(release, Release.State.QUEUED, actor=actor, reason=reason or "waiting for a deploy worker"):
        kick(release.environment)


def kick(environment: Environment) -> None:
    # A run still deploying may already have looked for queued releases: only a waiting run
    # makes another one unnecessary (two runs are safe: the environment's lock serialises them).
    jobrunner.enqueue_once(
        "releases.jobs.process_environment",
        environment.pk,
        waiting_only=True,
        queue="deploys",
        related=environment,
    )


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
    check_candidate(release.environment, image)
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


# --- rollback --------------------------------------------------------------------------------------


def previous_good(environment: Environment, *, before: Release | None = None) -> Release | None:
    """The latest release that succeeded here and does not run the same image as ``before``."""
    current = before or environment.current_release
    queryset = Release.objects.filter(environment=environment, state=Release.State.SUCCEEDED)
    if current is not None:
        queryset = queryset.exclude(pk=current.pk).exclude(digest=current.digest)
    return queryset.select_related("image").order_by("-finished_at", "-pk").first()


def rollback(
    environment: Environment, *, actor: Actor, reason: str = "", failed: Release | None = None
) -> Release:
    """Redeploy the previous good release; needs no approval and is allowed during a freeze."""
    environment = Environment.objects.select_related("current_release").get(pk=environment.pk)
    current = failed or environment.current_release
    target = previous_good(environment, before=current)
    if target is None:
        raise ConflictError(f"{environment} has no earlier successful release to roll back to.")
    with transaction.atomic():
        release = Release.objects.create(
            environment=environment,
            kind=Release.Kind.ROLLBACK,
            build=target.build,
            image=target.image,
            digest=target.digest,
            model_version=target.model_version,
            commit=target.commit,
            requested_by=audit.user_of(actor),
            rollback_of=current,
            previous_release=environment.current_release,
            note=reason or f"roll back to release #{target.pk}",
            state=Release.State.APPROVED,
        )
        after = {"state": release.state, "digest": release.digest, "to_release": target.pk, "reason": reason}
        audit.record("release.rollback", release, actor=actor, after=after)
        enqueue(release, actor=actor, reason=reason)
    return release


def get_release(pk: int) -> Release:
    release = (
        Release.objects.select_related(
            "environment__application", "image", "model_version__model", "requested_by"
        )
        .filter(pk=pk)
        .first()
    )
    if release is None:
        raise NotFoundError(f"No release #{pk}.")
    return release


def active_freeze(environment: Environment, when: datetime | None = None) -> Any:
    return freeze.active(environment, when or timezone.now())


# --- schedules and freeze windows ---------------------------------------------------------------


def _schedule_state(schedule: Schedule) -> dict[str, Any]:
    fields = ["cron", "timezone", "policy", "enabled", "owner_approves", "prepare_minutes", "grace_minutes"]
    return {f: getattr(schedule, f) for f in fields}


def save_schedule(schedule: Schedule, fields: dict[str, Any], *, actor: Actor) -> Schedule:
    """Create or change a schedule. A new or re-enabled schedule starts counting slots from now."""
    creating = schedule.pk is None
    before = None if creating else _schedule_state(schedule)
    was_enabled = schedule.enabled
    for name, value in fields.items():
        setattr(schedule, name, value)
    try:
        scheduling.validate_cron(schedule.cron)
        scheduling.validate_timezone(schedule.timezone)
    except ValueError as exc:
        raise ServiceError(str(exc)) from None
    if creating or (schedule.enabled and not was_enabled):
        schedule.evaluated_until = timezone.now()
    with transaction.atomic():
        schedule.save()
        action = "schedule.create" if creating else "schedule.update"
        audit.record(action, schedule, actor=actor, before=before, after=_schedule_state(schedule))
    return schedule


def delete_schedule(schedule: Schedule, *, actor: Actor) -> None:
    with transaction.atomic():
        audit.record("schedule.delete", schedule, actor=actor, before=_schedule_state(schedule))
        schedule.delete()


def add_freeze_window(environment: Environment, fields: dict[str, Any], *, actor: Actor) -> FreezeWindow:
    window = FreezeWindow(environment=environment, created_by=audit.user_of(actor), **fields)
    try:
        freeze.as_window(window)  # validates one-off vs recurring, times, cron, time zone
    except ValueError as exc:
        raise ServiceError(f"Invalid freeze window: {exc}") from None
    with transaction.atomic():
        window.save()
        after = {
            "reason": window.reason,
            "start": str(window.start),
            "end": str(window.end),
            "cron": window.cron,
        }
        audit.record("freeze.create", window, actor=actor, after=after)
    return window


def delete_freeze_window(window: FreezeWindow, *, actor: Actor) -> None:
    with transaction.atomic():
        audit.record("freeze.delete", window, actor=actor, before={"reason": window.reason})
        window.delete()
