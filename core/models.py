"""Cross-cutting records: the audit trail and the background job runs."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.redaction import redact


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove an audit event."""


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit events cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events cannot be deleted")


class AuditEvent(models.Model):
    """One state change: who did what to which object, from which state to which.

    Append-only: the model, its queryset and the admin refuse updates and deletes, and on
    PostgreSQL a trigger refuses them in the database too.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # PROTECT: a user who ever acted cannot be deleted (the row could not be changed to forget
    # them: it is append-only, in the database too); such users are deactivated instead.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Kept as text so the trail stays readable after a user is renamed;
    # "system" or "job:<name>" for changes made by background work.
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, db_index=True)
    object_id = models.CharField(max_length=64, db_index=True)
    object_repr = models.CharField(max_length=200)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        indexes: ClassVar = [models.Index(fields=["object_type", "object_id", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.object_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events cannot be deleted")

    @property
    def shown_before(self) -> Any:
        return redact(self.before)

    @property
    def shown_after(self) -> Any:
        return redact(self.after)

    @property
    def field_changes(self) -> list[tuple[str, str, str]]:
        """(field, before, after) as readable text for each field that changed (a field both
        sides hold unchanged, such as the digest of a release changing state, is left out)."""
        raw_before = self.before if isinstance(self.before, dict) else {}
        raw_after = self.after if isinstance(self.after, dict) else {}
        names = [
            name
            for name in dict.fromkeys([*raw_before, *raw_after])
            if not (name in raw_before and name in raw_after and raw_before[name] == raw_after[name])
        ]
        before, after = redact(raw_before), redact(raw_after)
        return [(name, readable(before.get(name)), readable(after.get(name))) for name in names]


def readable(value: Any) -> str:
    """A stored audit value as people read it: text as is, nothing as a dash, the rest as JSON."""
    if value is None or value == "":
        return "\u2013"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class JobRun(models.Model):
    """One background job, from enqueue to its end, as users see it on the jobs page."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        RETRYING = "retrying"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING, Status.RETRYING)

    name = models.CharField(max_length=200, db_index=True)
    queue = models.CharField(max_length=50)
    args = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=1)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    request_id = models.CharField(
        max_length=64, blank=True, help_text="the request (or the job run's request) that enqueued it"
    )
    enqueued_at = models.DateTimeField(default=timezone.now, db_index=True)
    run_after = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="when a retrying run is due (the scheduler queues it)"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="written every few seconds while a worker runs it"
    )
    worker = models.CharField(max_length=100, blank=True, help_text="host:pid of the worker running it")
    error = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-enqueued_at", "-id"]
        indexes: ClassVar = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk} ({self.status})"

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1].replace("_", " ")

    @property
    def duration(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class ApiToken(models.Model):
    """A key for the API's ``Authorization: Token <key>`` header, stored only as its sha256.

    The key is shown once, when issued. A fast hash is enough: keys are 40 random characters,
    far beyond guessing, and a hash lets a request find its token in one indexed lookup.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="what it is for, e.g. the CI pipeline")
    prefix = models.CharField(max_length=12, help_text="the key's first characters, to recognise it")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.user}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())

    def audit_state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "prefix": self.prefix,
            "user": str(self.user),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "revoked": self.revoked_at is not None,
        }


class SignInIdentity(models.Model):
    """Who a user is at an OpenID provider: its issuer and the subject it names them by.

    Single sign-on finds users by this pair, never by user name or e-mail, so a name chosen at the
    provider can never take over a local account of the same name.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identities")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)
    last_sign_in_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="sign_in_identity_unique")
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
