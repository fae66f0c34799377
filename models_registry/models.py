"""Registered models and their immutable, numbered versions."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def validate_model_name(name: str) -> None:
    """Names appear in URLs and store keys: no slashes, dot-dot or control characters."""
    if not NAME_PATTERN.match(name) or ".." in name:
        raise ValidationError(
            "Use 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit "
            "(no '/', '..', spaces or control characters).",
            code="invalid_name",
        )


class RegisteredModel(models.Model):
    name = models.CharField(max_length=100, unique=True, validators=[validate_model_name])
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("models_registry:model", args=[self.name])


class ModelVersion(models.Model):
    """One version of a model: content addressed by sha256 and never changed after registration.

    ``status`` is the people's verdict (active, deprecated, blocked). ``state`` is what the
    dashboard knows about the content: a version named by a store key is *pending* until a
    worker has hashed and pinned its bytes, then *ready*; *failed* when that could not be done;
    *missing* when the store sync no longer finds the pinned bytes.
    """

    class Status(models.TextChoices):
        ACTIVE = "active"
        DEPRECATED = "deprecated"
        BLOCKED = "blocked"

    class State(models.TextChoices):
        PENDING = "pending"
        READY = "ready"
        FAILED = "failed"
        MISSING = "missing"

    class Source(models.TextChoices):
        UPLOAD = "upload"
        REFERENCE = "reference"
        SYNC = "sync"

    # Blocked is final: a blocked version can never be released, so it cannot be unblocked.
    TRANSITIONS: ClassVar[dict[str, set[str]]] = {
        Status.ACTIVE: {Status.DEPRECATED, Status.BLOCKED},
        Status.DEPRECATED: {Status.ACTIVE, Status.BLOCKED},
        Status.BLOCKED: set(),
    }
    # Failed is final: the content could not be pinned, so the version never had any.
    STATE_TRANSITIONS: ClassVar[dict[str, set[str]]] = {
        State.PENDING: {State.READY, State.FAILED},
        State.READY: {State.MISSING},
        State.MISSING: {State.READY},
        State.FAILED: set(),
    }
    # Set once, when a pending version becomes ready (uploads are ready from the start).
    IMMUTABLE_FIELDS = ("model_id", "version", "sha256", "size", "storage_key", "blob_version_id", "etag")

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, blank=True)  # "" until the content is known
    size = models.PositiveBigIntegerField(null=True, blank=True)
    # Where the registered bytes are read from: a content-addressed key, or the published key
    # read at ``blob_version_id``; "" while pending.
    storage_key = models.CharField(max_length=1024, blank=True)
    # The key the version was published under and that object's etag when it was registered.
    source_key = models.CharField(max_length=1024, blank=True)
    source_etag = models.CharField(max_length=200, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    framework = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.TextField(blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.READY)
    state_reason = models.TextField(blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.UPLOAD)
    # What the store said about the pinned object (downloads send ``etag`` as If-Match).
    etag = models.CharField(max_length=200, blank=True)
    last_modified = models.DateTimeField(null=True, blank=True)
    content_md5 = models.CharField(max_length=64, blank=True)
    blob_version_id = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Indexed: the home page lists the newest versions across all models by this.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering: ClassVar = ["model", "-version"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["model", "version"], name="unique_model_version_number"),
            # Pending and failed versions have no content yet, so only known digests are unique.
            models.UniqueConstraint(
                fields=["model", "sha256"],
                condition=~models.Q(sha256=""),
                name="unique_model_version_known_content",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["storage_key"]),
            models.Index(fields=["source_key"]),
        ]
        permissions: ClassVar = [
            ("change_modelversion_status", "Can deprecate, reactivate or block a model version"),
            ("sync_model_store", "Can start a sync of the model store"),
        ]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding and self.pk:
            stored = ModelVersion.objects.filter(pk=self.pk).values("state", *self.IMMUTABLE_FIELDS).first()
            changed = stored and any(stored[f] != getattr(self, f) for f in self.IMMUTABLE_FIELDS)
            if changed and stored["state"] != self.State.PENDING:
                raise ValidationError("A model version's content is immutable once registered.")
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("models_registry:version", args=[self.model.name, self.version])

    @property
    def is_buildable(self) -> bool:
        """A build needs the registered bytes: not blocked, and pinned and present in the store."""
        return self.status != self.Status.BLOCKED and self.state == self.State.READY

    @property
    def is_releasable(self) -> bool:
        """An image that holds this version may be released unless it is blocked or never had content.

        A missing version stays releasable: its images carry the bytes, and on-call must be
        able to roll back to them after the store lost the original.
        """
        return self.status != self.Status.BLOCKED and self.state in (self.State.READY, self.State.MISSING)

    def unusable_reason(self) -> str:
        """Why this version cannot be built now ("" when it can), in words for a form or API error."""
        if self.status == self.Status.BLOCKED:
            return f"{self} is blocked ({self.status_reason})"
        if self.state == self.State.PENDING:
            return f"{self} is pending: its content is still being hashed and pinned"
        if self.state != self.State.READY:
            return f"{self} is {self.state} ({self.state_reason})"
        return ""

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.status]

    def can_change_state_to(self, state: str) -> bool:
        return state in self.STATE_TRANSITIONS[self.state]

    def audit_state(self) -> dict[str, Any]:
        return {"status": self.status, "status_reason": self.status_reason}

    def audit_content(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "state_reason": self.state_reason,
            "sha256": self.sha256,
            "size": self.size,
            "storage_key": self.storage_key,
            "blob_version_id": self.blob_version_id,
        }
