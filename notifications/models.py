"""Notification channels (where messages go, and which) and deliveries (each message sent)."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from builds.models import Application
from core.crypto import EncryptedTextField
from releases.models import Environment


class Event(models.TextChoices):
    APPROVAL_NEEDED = "approval_needed", "A release needs approval"
    RELEASE_SUCCEEDED = "release_succeeded", "A release succeeded"
    RELEASE_FAILED = "release_failed", "A release failed"
    RELEASE_ROLLED_BACK = "release_rolled_back", "A release was rolled back"
    DRIFT_DETECTED = "drift_detected", "Drift detected in an environment"
    BUILD_FAILED = "build_failed", "A build failed"
    MODEL_VERSION_REGISTERED = "model_version_registered", "A model version was registered"


TEST_EVENT = "test"


def validate_web_url(value: str) -> None:
    """Only http(s) addresses with a host: never file://, ftp:// or a bare path."""
    parts = urlsplit(value or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Enter an http:// or https:// URL.", code="invalid")


def masked_url(value: str) -> str:
    """What may be shown of a receiver URL: scheme, host and first path segment. A Slack or Teams
    webhook URL carries its credential in the rest of the path or in the query."""
    parts = urlsplit(value or "")
    if not parts.hostname:
        return ""
    host = parts.netloc.rsplit("@", 1)[-1]
    segments = [segment for segment in parts.path.split("/") if segment]
    shown = f"{parts.scheme}://{host}/"
    if segments:
        shown += segments[0] + ("/…" if len(segments) > 1 or parts.query else "")
    elif parts.query:
        shown += "…"
    return shown


class NotificationChannel(models.Model):
    """Where notifications go, which events, and optionally only for one application or environment."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Webhook (JSON)"
        TEAMS = "teams", "Microsoft Teams"
        SLACK = "slack", "Slack"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.WEBHOOK)
    # Encrypted: Slack and Teams URLs hold a credential. Shown only as ``endpoint``.
    url = EncryptedTextField(validators=[validate_web_url])
    # Encrypted; shown once, when set, never again.
    secret = EncryptedTextField(blank=True, help_text="signs each body (HMAC-SHA256)")
    events = models.JSONField(default=list, blank=True, help_text="which events to send")
    application = models.ForeignKey(
        Application,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="only events of this application",
    )
    environment = models.ForeignKey(
        Environment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="only events of this environment",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("url", "secret")
    EDITABLE_FIELDS: ClassVar[tuple[str, ...]] = (
        "name",
        "kind",
        "url",
        "secret",
        "events",
        "application",
        "environment",
        "enabled",
    )

    class Meta:
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("notifications:channel", args=[self.pk])

    @property
    def endpoint(self) -> str:
        return masked_url(self.url)

    @property
    def has_secret(self) -> bool:
        return bool(self.secret)

    def clean(self) -> None:
        unknown = (
            sorted(set(self.events or []) - set(Event.values)) if isinstance(self.events, list) else None
        )
        if unknown is None or unknown:
            raise ValidationError(
                {"events": f"Unknown events: {unknown}; choose from {', '.join(Event.values)}."}
            )
        environment = self.environment
        if (
            environment is not None
            and self.application_id
            and environment.application_id != self.application_id
        ):
            raise ValidationError({"environment": "This environment belongs to another application."})

    def wants(self, event: str, *, applications: tuple[str, ...], environment_id: int | None) -> bool:
        """Does this channel take ``event`` of these applications and environment (its filters)?"""
        if not self.enabled or event not in self.events:
            return False
        if self.application is not None and self.application.name not in applications:
            return False
        return not (self.environment_id and self.environment_id != environment_id)

    def audit_state(self) -> dict[str, Any]:
        """Every setting; ``url`` and ``secret`` are recorded only as "set" or "changed"."""
        return {
            "name": self.name,
            "kind": self.kind,
            "url": self.url,
            "endpoint": self.endpoint,
            "secret": self.secret,
            "events": sorted(self.events or []),
            "application": self.application.name if self.application else None,
            "environment": str(self.environment) if self.environment_id else None,
            "enabled": self.enabled,
        }


class Delivery(models.Model):
    """One message to one channel, with what happened on each attempt to send it."""

    class State(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, db_index=True)
    payload = models.JSONField(help_text="the body sent, as the channel's kind wants it")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveIntegerField(null=True, blank=True, help_text="of the last attempt")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes: ClassVar = [models.Index(fields=["channel", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.event} to {self.channel_id} #{self.pk} ({self.state})"
