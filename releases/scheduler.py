"""Firing release schedules: each slot exactly once, whichever scheduler process gets there first.

Every evaluation looks at the slots between the schedule's ``evaluated_until`` and now. A slot is
claimed by inserting its :class:`ScheduleRun` row (unique per schedule and slot) in the same
transaction as what the slot does, so two schedulers never both act on it. Slots missed while
nothing ran are recorded as missed, except the latest one within the grace period, which runs.
With ``prepare_minutes`` the candidate is requested ahead of the slot so people can approve it
in time; at the slot, an approved candidate deploys and an unapproved one expires.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from builds.models import Build, Image
from core.errors import ServiceError
from releases import scheduling, services
from releases.models import Environment, Release, Schedule, ScheduleRun

logger = logging.getLogger(__name__)
ACTOR = "job:release_schedules"


def evaluate_all(now: datetime | None = None) -> list[str]:
    now = now or timezone.now()
    notes = []
    for schedule in Schedule.objects.filter(enabled=True).select_related("environment__application", "owner"):
        notes.extend(evaluate(schedule, now))
    return notes


def evaluate(schedule: Schedule, now: datetime) -> list[str]:
    since = schedule.evaluated_until or schedule.created_at
    notes = []
    if schedule.prepare_minutes:
        lead = timedelta(minutes=schedule.prepare_minutes)
        for slot in scheduling.slots_between(schedule.cron, schedule.timezone, since + lead, now + lead):
            notes.append(prepare(schedule, slot, now))
    grace_start = max(since, now - timedelta(minutes=schedule.grace_minutes))
    # The latest slot within the grace period runs; earlier ones (listed up to the helper's cap,
    # so a long outage of a frequent schedule records its first slots only) were missed.
    recent = scheduling.slots_between(schedule.cron, schedule.timezone, grace_start, now)
    missed = scheduling.slots_between(schedule.cron, schedule.timezone, since, grace_start) + recent[:-1]
    for slot in missed:
        notes.append(
            _claim(schedule, slot, ScheduleRun.Outcome.MISSED, "the scheduler was not running at the slot")
        )
    if recent:
        notes.append(fire(schedule, recent[-1], now))
    Schedule.objects.filter(pk=schedule.pk).update(evaluated_until=now)
    return [n for n in notes if n]


def _claim(
    schedule: Schedule, slot: datetime, outcome: str, reason: str, release: Release | None = None
) -> str:
    try:
        with transaction.atomic():
            ScheduleRun.objects.create(
                schedule=schedule, slot=slot, outcome=outcome, reason=reason, release=release
            )
    except IntegrityError:
        return ""  # another scheduler already recorded this slot
    return f"{schedule} {slot:%Y-%m-%d %H:%M}Z {outcome}: {reason}"


def pick_candidate(schedule: Schedule) -> Image | None:
    environment = schedule.environment
    builds = Build.objects.filter(
        application=environment.application, state=Build.State.SUCCEEDED, image__isnull=False
    )
    if schedule.policy == Schedule.Policy.PASSED_PREVIOUS and environment.previous_id:
        passed = Release.objects.filter(environment=environment.previous, state=Release.State.SUCCEEDED)
        builds = builds.filter(image__digest__in=passed.values("digest"))
    build = builds.select_related("image__model_version").order_by("-finished_at", "-pk").first()
    return build.image if build else None


def why_skip(environment: Environment, image: Image | None, now: datetime) -> str:
    if image is None:
        return "no candidate matches the policy"
    current = environment.current_release
    if current is not None and current.digest == image.digest:
        return "nothing new: the candidate already runs"
    if environment.active_release_id or environment.releases.filter(state=Release.State.QUEUED).exists():
        return "a deployment is running or queued"
    freeze = services.active_freeze(environment, now)
    if freeze is not None:
        return f"frozen: {freeze.reason}"
    return ""


def prepare(schedule: Schedule, slot: datetime, now: datetime) -> str:
    """Request the slot's candidate ahead of time so approvals can be collected."""
    environment = schedule.environment
    image = pick_candidate(schedule)
    if (
        why_skip(environment, image, now)
        or Release.objects.filter(schedule=schedule, scheduled_for=slot).exists()
    ):
        return ""
    try:
        with transaction.atomic():
            release = services.request_release(
                environment,
                image=image,
                actor=schedule.owner,
                scheduled_for=slot,
                schedule=schedule,
                note=f"prepared for the {slot:%Y-%m-%d %H:%M}Z slot",
            )
    except IntegrityError:
        return ""  # another scheduler prepared it
    except ServiceError as exc:
        return f"{schedule}: not prepared: {exc.message}"
    return f"{schedule}: release #{release.pk} prepared for {slot:%Y-%m-%d %H:%M}Z"


def fire(schedule: Schedule, slot: datetime, now: datetime) -> str:
    prepared = Release.objects.filter(schedule=schedule, scheduled_for=slot).first()
    if prepared is not None:
        return _fire_prepared(schedule, slot, prepared)
    environment = Environment.objects.get(pk=schedule.environment_id)
    image = pick_candidate(schedule)
    reason = why_skip(environment, image, now)
    if reason:
        return _claim(schedule, slot, ScheduleRun.Outcome.SKIPPED, reason)
    try:
        with transaction.atomic():
            ScheduleRun.objects.create(schedule=schedule, slot=slot, outcome=ScheduleRun.Outcome.FIRED)
            release = services.request_release(
                environment,
                image=image,
                actor=schedule.owner,
                schedule=schedule,
                note=f"{slot:%Y-%m-%d %H:%M}Z slot",
            )
            if (
                schedule.owner_approves
                and environment.allow_self_approval
                and release.state == Release.State.REQUESTED
            ):
                services.approve(release, actor=schedule.owner, comment="approved by the schedule's owner")
            release.refresh_from_db()
            ScheduleRun.objects.filter(schedule=schedule, slot=slot).update(
                release=release, reason=f"release #{release.pk} {release.state}"
            )
    except IntegrityError:
        return ""
    except ServiceError as exc:
        return _claim(schedule, slot, ScheduleRun.Outcome.SKIPPED, exc.message)
    return f"{schedule} {slot:%Y-%m-%d %H:%M}Z fired: release #{release.pk} {release.state}"


def _fire_prepared(schedule: Schedule, slot: datetime, release: Release) -> str:
    try:
        with transaction.atomic():
            run = ScheduleRun.objects.create(
                schedule=schedule, slot=slot, outcome=ScheduleRun.Outcome.FIRED, release=release
            )
            if release.state == Release.State.SCHEDULED:
                services.enqueue(release, actor=ACTOR, reason="its slot came")
                run.reason = "approved ahead; queued"
            elif release.state == Release.State.REQUESTED:
                services.transition(
                    release, Release.State.EXPIRED, actor=ACTOR, reason="not approved by its slot"
                )
                run.outcome, run.reason = (
                    ScheduleRun.Outcome.SKIPPED,
                    "the prepared release was not approved in time",
                )
            else:
                run.outcome, run.reason = (
                    ScheduleRun.Outcome.SKIPPED,
                    f"the prepared release is {release.state}",
                )
            run.save(update_fields=["outcome", "reason"])
    except IntegrityError:
        return ""
    return f"{schedule} {slot:%Y-%m-%d %H:%M}Z: {run.reason}"
