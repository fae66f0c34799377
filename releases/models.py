"""Environments, releases and their approvals, schedules, freeze windows and rollout progress.

``Release.TRANSITIONS`` is the one place that says which state may follow which; services
move releases only through ``releases.services.transition``, which checks it and audits.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.timezone import now

from builds.models import Application, Build, Image
from models_registry.models import ModelVersion

MINUTES_PER_YEAR = 366 * 24 * 60
ENV_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")


def validate_env_name(value: str) -> None:
    if not ENV_NAME.match(value):
        raise ValidationError("Use 1-40 lower-case letters, digits and '-', e.g. staging or prod-eu.")


class Environment(models.Model):
    """Where an application runs, one step of its promotion path (dev → staging → prod)."""

    class TargetKind(models.TextChoices):
        LOCAL = "local", "Local process"
        KUBERNETES = "kubernetes", "Kubernetes"

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="environments")
    name = models.CharField(max_length=40, validators=[validate_env_name])
    order = models.PositiveIntegerField(default=0, help_text="position in the promotion path")
    previous = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="next_environments",
        help_text="a candidate must have succeeded there first",
    )
    soak_minutes = models.PositiveIntegerField(
        validators=[MaxValueValidator(MINUTES_PER_YEAR)],
        default=0,
        help_text="how long it must have run in the previous environment",
    )
    target_kind = models.CharField(max_length=20, choices=TargetKind.choices, default=TargetKind.LOCAL)
    target_config = models.JSONField(
        default=dict,
        blank=True,
        help_text='the target\'s settings, e.g. local: {"port": 8101}; every setting is in docs/releases.md',
    )
    required_approvals = models.PositiveIntegerField(validators=[MaxValueValidator(10)], default=1)
    approver_group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    allow_self_approval = models.BooleanField(
        default=False, help_text="may the requester approve their own release"
    )
    approval_validity_hours = models.PositiveIntegerField(
        validators=[MaxValueValidator(24 * 366)], default=24
    )
    auto_rollback = models.BooleanField(
        default=True, help_text="roll back to the previous release when a rollout fails"
    )
    rollout_timeout = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(24 * 3600)],
        default=600,
        help_text="seconds a rollout may take",
    )
    current_release = models.ForeignKey(
        "Release",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="what runs now",
    )
    active_release = models.ForeignKey(
        "Release",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the release being deployed: the environment's deployment lock",
    )
    drift = models.TextField(blank=True, help_text="what runs differs from what was released")
    drift_checked_at = models.DateTimeField(null=True, blank=True)
    # Health as the last drift check saw it (an observation, not a state people change).
    ready_replicas = models.PositiveIntegerField(null=True, blank=True)
    desired_replicas = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering: ClassVar = ["application", "order", "name"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["application", "name"], name="unique_environment")
        ]
        permissions: ClassVar = [("break_glass", "Can deploy during a freeze window (audited)")]

    def __str__(self) -> str:
        return f"{self.application.name}/{self.name}"

    def get_absolute_url(self) -> str:
        return reverse("releases:environment", args=[self.pk])

    @property
    def approval_validity(self) -> timedelta:
        return timedelta(hours=self.approval_validity_hours)

    def audit_state(self) -> dict[str, Any]:
        """Every setting people can change, with related rows by name."""
        fields = [
            "name",
            "order",
            "soak_minutes",
            "target_kind",
            "target_config",
            "required_approvals",
            "allow_self_approval",
            "approval_validity_hours",
            "auto_rollback",
            "rollout_timeout",
        ]
        state = {f: getattr(self, f) for f in fields}
        state["previous"] = self.previous.name if self.previous else None
        state["approver_group"] = self.approver_group.name if self.approver_group else None
        return state


class FreezeWindow(models.Model):
    """No deployments but rollbacks (and audited break-glass) while a window is active."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="freeze_windows")
    reason = models.CharField(max_length=200)
    start = models.DateTimeField(null=True, blank=True, help_text="one-off window: start")
    end = models.DateTimeField(null=True, blank=True, help_text="one-off window: end")
    cron = models.CharField(max_length=100, blank=True, help_text="recurring window: when it starts (cron)")
    duration_minutes = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MINUTES_PER_YEAR)],
        null=True,
        blank=True,
        help_text="recurring window: how long",
    )
    timezone = models.CharField(max_length=64, default="UTC")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return f"freeze of {self.environment}: {self.reason}"


class Release(models.Model):
    """A candidate (image digest + model version + commit) for one environment."""

    class State(models.TextChoices):
        REQUESTED = "requested"
        APPROVED = "approved"
        SCHEDULED = "scheduled"
        QUEUED = "queued"
        DEPLOYING = "deploying"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        ROLLED_BACK = "rolled_back", "Rolled back"
        REJECTED = "rejected"
        CANCELLED = "cancelled"
        EXPIRED = "expired"
        SUPERSEDED = "superseded"

    class Kind(models.TextChoices):
        DEPLOY = "deploy"
        ROLLBACK = "rollback"

    class TargetChange(models.TextChoices):
        """What deploying did to the target. Only an applied (or possibly applied) change can
        be running there, so only it is what the next release expects, and only it is rolled back."""

        NOT_SENT = "", "not sent"
        UNKNOWN = "unknown", "sent, outcome not known yet"
        APPLIED = "applied", "applied"
        REFUSED = "refused", "refused: nothing changed"

    S = State
    TRANSITIONS: ClassVar[dict[str, set[str]]] = {
        S.REQUESTED: {S.APPROVED, S.REJECTED, S.CANCELLED, S.EXPIRED, S.SUPERSEDED},
        S.APPROVED: {S.QUEUED, S.SCHEDULED, S.CANCELLED, S.EXPIRED, S.SUPERSEDED, S.REQUESTED},
        S.SCHEDULED: {S.QUEUED, S.CANCELLED, S.EXPIRED, S.SUPERSEDED, S.REQUESTED},
        S.QUEUED: {S.DEPLOYING, S.CANCELLED, S.EXPIRED, S.SUPERSEDED},
        S.DEPLOYING: {S.SUCCEEDED, S.FAILED, S.ROLLED_BACK},
        S.SUCCEEDED: {S.ROLLED_BACK},
        S.FAILED: {S.ROLLED_BACK},
        S.ROLLED_BACK: set(),
        S.REJECTED: set(),
        S.CANCELLED: set(),
        S.EXPIRED: set(),
        S.SUPERSEDED: set(),
    }
    WAITING = (S.REQUESTED, S.APPROVED, S.SCHEDULED, S.QUEUED)
    FINAL = (S.ROLLED_BACK, S.REJECTED, S.CANCELLED, S.EXPIRED, S.SUPERSEDED)

    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="releases")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.DEPLOY)
    build = models.ForeignKey(Build, null=True, blank=True, on_delete=models.PROTECT, related_name="releases")
    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="releases")
    digest = models.CharField(max_length=71, help_text="the candidate; approvals are for this digest")
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="releases"
    )
    commit = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.REQUESTED, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=now, db_index=True)
    note = models.TextField(blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    schedule = models.ForeignKey(
        "Schedule", null=True, blank=True, on_delete=models.SET_NULL, related_name="releases"
    )
    rollback_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rollbacks"
    )
    previous_release = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="what ran before it",
    )
    break_glass_reason = models.TextField(blank=True)
    queued_at = models.DateTimeField(null=True, blank=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    state_reason = models.TextField(blank=True, help_text="why it is in its state, or what it waits for")
    target_change = models.CharField(
        max_length=10, choices=TargetChange.choices, blank=True, default=TargetChange.NOT_SENT
    )
    applied_at = models.DateTimeField(null=True, blank=True, help_text="when the target took the change")
    progress = models.JSONField(default=dict, blank=True)
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-requested_at", "-id"]
        # The overview reads the last finished release of each environment in one subquery each.
        indexes: ClassVar = [
            models.Index(fields=["environment", "-finished_at", "-id"], name="release_env_finished"),
        ]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["schedule", "scheduled_for"],
                condition=models.Q(schedule__isnull=False, scheduled_for__isnull=False),
                name="one_prepared_release_per_slot",
            )
        ]
        permissions: ClassVar = [
            ("approve_release", "Can approve or reject a release"),
            ("schedule_release", "Can schedule releases"),
            ("rollback_release", "Can roll back an environment"),
        ]

    def __str__(self) -> str:
        return f"release #{self.pk} of {self.environment}"

    def get_absolute_url(self) -> str:
        return reverse("releases:release", args=[self.pk])

    def can_become(self, state: str) -> bool:
        return state in self.TRANSITIONS[self.state]

    @property
    def is_active(self) -> bool:
        return self.state in (*self.WAITING, self.State.DEPLOYING)

    @property
    def may_run(self) -> bool:
        """Its image may be what the target runs: the change was applied, or might have been."""
        return self.target_change in (self.TargetChange.APPLIED, self.TargetChange.UNKNOWN)

    def audit_state(self) -> dict[str, Any]:
        return {"state": self.state, "digest": self.digest, "reason": self.state_reason or None}


class Approval(models.Model):
    """One person's decision on one candidate; it lapses when the candidate changes or it gets old."""

    class Decision(models.TextChoices):
        APPROVE = "approve"
        REJECT = "reject"

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    digest = models.CharField(max_length=71)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering: ClassVar = ["created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["release", "approver", "digest"], name="one_decision_per_person")
        ]

    def __str__(self) -> str:
        return f"{self.approver} {self.decision}s {self.release}"


class RolloutEvent(models.Model):
    """A change observed while a release rolled out, in the order it was seen."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=now)
    phase = models.CharField(max_length=20)
    message = models.TextField()
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering: ClassVar = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.release}: {self.phase} {self.message}"


class Schedule(models.Model):
    """Recurring releases of an environment, e.g. nightly at 02:00 Europe/Amsterdam."""

    class Policy(models.TextChoices):
        PASSED_PREVIOUS = "passed-previous", "Latest successful build that passed the previous environment"
        LATEST_BUILD = "latest-build", "Latest successful build"

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="schedules")
    cron = models.CharField(max_length=100)
    timezone = models.CharField(max_length=64, default="UTC")
    policy = models.CharField(max_length=20, choices=Policy.choices, default=Policy.PASSED_PREVIOUS)
    enabled = models.BooleanField(default=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    owner_approves = models.BooleanField(
        default=False,
        help_text="the owner's approval is given at the slot (only where the environment allows self-approval)",
    )
    prepare_minutes = models.PositiveIntegerField(
        validators=[MaxValueValidator(7 * 24 * 60)],
        default=0,
        help_text="request the candidate this long before the slot, so approvals can be collected ahead",
    )
    grace_minutes = models.PositiveIntegerField(
        validators=[MaxValueValidator(7 * 24 * 60)],
        default=60,
        help_text="a slot missed while down still runs within this",
    )
    evaluated_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering: ClassVar = ["environment", "id"]

    def __str__(self) -> str:
        return f"{self.environment} at '{self.cron}' {self.timezone}"


class ScheduleRun(models.Model):
    """What happened at one slot of a schedule: exactly one row per slot, whoever evaluates it."""

    class Outcome(models.TextChoices):
        PREPARED = "prepared"
        FIRED = "fired"
        SKIPPED = "skipped"
        MISSED = "missed"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="runs")
    slot = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.TextField(blank=True)
    release = models.ForeignKey(Release, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering: ClassVar = ["-slot"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["schedule", "slot"], name="one_run_per_slot")
        ]

    def __str__(self) -> str:
        return f"{self.schedule} @ {self.slot:%Y-%m-%d %H:%M}Z: {self.outcome}"


class RuleChange(models.Model):
    """A proposed weakening of an environment's approval rules, waiting for a second person.

    Whoever the rules constrain must not be able to lift them alone: a change that lowers the
    approvals needed, lets requesters approve their own releases, lengthens how long approvals
    last or changes who approves takes effect only when another release manager (or an admin)
    approves it. A change that only tightens the rules applies at once.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        APPLIED = "applied"
        REJECTED = "rejected"
        WITHDRAWN = "withdrawn"

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="rule_changes")
    # {"field": [from, to]}; approver_group by group id (null for "any release manager").
    changes = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(default=now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=2000, blank=True, help_text="why it was proposed, or rejected")

    class Meta:
        ordering: ClassVar = ["-proposed_at", "-id"]

    def __str__(self) -> str:
        return f"rule change #{self.pk} of {self.environment}"

    def get_absolute_url(self) -> str:
        return reverse("releases:environment", args=[self.environment_id])

    def audit_state(self) -> dict[str, Any]:
        return {"state": self.state, "changes": self.changes}


class RunPeriod(models.Model):
    """When a release was what ran in an environment: from becoming current until replaced.

    Written in the same transaction as ``Environment.current_release`` (one open period per
    environment), so "what ran there at 02:13 last Tuesday" is one indexed lookup.
    """

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="run_periods")
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="run_periods")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True, help_text="empty while it still runs")

    class Meta:
        ordering: ClassVar = ["-started_at", "-id"]
        indexes: ClassVar = [models.Index(fields=["environment", "-started_at"])]

    def __str__(self) -> str:
        return f"release #{self.release_id} in {self.environment_id} from {self.started_at:%Y-%m-%d %H:%M}"
