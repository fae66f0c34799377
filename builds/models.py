"""Applications, their builds, and the images builds produce or the tag sync discovers."""

from __future__ import annotations

import re
import shlex
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from core.crypto import EncryptedTextField
from integrations import git
from integrations.errors import PermanentError
from models_registry.models import ModelVersion, RegisteredModel, validate_model_name

COMMIT_PATTERN = re.compile(r"^[0-9a-f]{40}$")
BRANCH_REF_PREFIX = "refs/heads/"
REPOSITORY_PATTERN = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
BRANCH_PATTERN = re.compile(r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}$")


def validate_image_repository(value: str) -> None:
    if not REPOSITORY_PATTERN.match(value) or len(value) > 200:
        raise ValidationError(
            "Use lower-case letters, digits and . _ - separated by '/', e.g. team/churn-app."
        )


def validate_branch(value: str) -> None:
    if not BRANCH_PATTERN.match(value):
        raise ValidationError("Not a valid branch name.")


def validate_repository_url(value: str) -> None:
    """A git URL or an absolute path, holding no credentials: those stay on the workers."""
    try:
        git.validate_repo_url(value)
    except PermanentError as exc:
        raise ValidationError(f"{exc.message}.") from None
    if git.credentials_in(value):
        raise ValidationError(
            "Put no user name, password or token in the URL (everyone who can read the application "
            "would see it): give the workers a git credentials file instead (GIT_CREDENTIALS_FILE)."
        )


def validate_command(value: str) -> None:
    try:
        if not shlex.split(value):
            raise ValidationError("The command is empty.")
    except ValueError as exc:
        raise ValidationError(f"Cannot parse the command: {exc}") from None


class Application(models.Model):
    """An AI application: a git repository whose code is packaged with one registered model."""

    class BuildService(models.TextChoices):
        LOCAL = "local", "Local builder"
        AZURE_DEVOPS = "azure-devops", "Azure DevOps"

    name = models.CharField(max_length=100, unique=True, validators=[validate_model_name])
    description = models.TextField(blank=True)
    repository_url = models.CharField(
        max_length=500,
        validators=[validate_repository_url],
        help_text="git URL or local path, without credentials",
    )
    default_branch = models.CharField(max_length=200, default="main", validators=[validate_branch])
    app_path = models.CharField(
        max_length=300, blank=True, help_text="folder of the app inside the repository ('' = the root)"
    )
    image_repository = models.CharField(max_length=200, validators=[validate_image_repository])
    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="applications")
    build_service = models.CharField(max_length=20, choices=BuildService.choices, default=BuildService.LOCAL)
    test_command = models.CharField(max_length=500, default="python3 -m unittest discover -s tests")
    command = models.CharField(
        max_length=500,
        default="python3 serve.py",
        validators=[validate_command],
        help_text="the image's entrypoint",
    )
    port = models.PositiveIntegerField(
        default=8080, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    base_image = models.CharField(
        max_length=300, blank=True, help_text="optional base image in the same registry (repository@digest)"
    )
    rebuild_on_new_model = models.BooleanField(
        default=True, help_text="build the latest commit again when a new version of the model is registered"
    )
    webhook_secret = EncryptedTextField(
        blank=True, help_text="checks the signature of push webhooks; stored encrypted"
    )
    last_seen_commit = models.CharField(max_length=40, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    poll_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    # What people may set (forms, API, services); the rest is written by the product.
    EDITABLE_FIELDS: ClassVar[tuple[str, ...]] = (
        "description",
        "repository_url",
        "default_branch",
        "app_path",
        "image_repository",
        "model",
        "build_service",
        "test_command",
        "command",
        "port",
        "base_image",
        "rebuild_on_new_model",
        "webhook_secret",
    )

    class Meta:
        ordering: ClassVar = ["name"]
        permissions: ClassVar = [
            ("trigger_build", "Can start a build"),
            ("cancel_build", "Can cancel a build"),
            ("sync_images", "Can start an image tag sync"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("builds:application", args=[self.name])

    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("webhook_secret",)

    def audit_state(self) -> dict[str, Any]:
        """Every editable field (secrets too: callers record them only as "changed" or "set")."""
        state = {f: getattr(self, f) for f in ("name", *self.EDITABLE_FIELDS)}
        state["model"] = self.model.name
        return state


class Build(models.Model):
    """One build of (application, commit, model version): at most one per triple."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Build now"
        COMMIT = "commit", "New commit (poll)"
        WEBHOOK = "webhook", "Push webhook"
        MODEL = "model", "New model version"

    ACTIVE = (State.QUEUED, State.RUNNING)
    TERMINAL = (State.SUCCEEDED, State.FAILED, State.CANCELLED)
    TRANSITIONS: ClassVar[dict[str, set[str]]] = {
        State.QUEUED: {State.RUNNING, State.FAILED, State.CANCELLED},
        State.RUNNING: {State.SUCCEEDED, State.FAILED, State.CANCELLED, State.QUEUED},  # queued: retry later
        State.FAILED: {State.QUEUED},  # retry
        State.CANCELLED: {State.QUEUED},  # retry
        State.SUCCEEDED: set(),
    }
    LOG_LIMIT = 2_000_000  # characters kept; older output is cut from the front

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="builds")
    commit = models.CharField(
        max_length=40, blank=True, help_text="the full sha; empty until the build job resolves what was asked"
    )
    # New columns get database defaults too: during a rolling upgrade the previous release's
    # code, which does not know them, still inserts builds.
    requested_ref = models.CharField(
        max_length=250,
        blank=True,
        default="",
        db_default="",
        help_text="what was asked for: a commit sha (or prefix), or refs/heads/<branch> for a branch's head",
    )
    duplicate_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the build that already had these inputs when this one resolved its commit",
    )
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="builds")
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED, db_index=True)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.MANUAL)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    image_tag = models.CharField(max_length=128)
    image = models.ForeignKey(
        "Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="builds"
    )
    external_id = models.CharField(max_length=100, blank=True)
    external_url = models.URLField(max_length=500, blank=True)
    failure_reason = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    log = models.TextField(blank=True)
    attempt = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="last sign of life of the worker running it"
    )
    # The commit list (BuildCommit rows) a succeeded build records, so release diffs read rows.
    history_recorded_at = models.DateTimeField(null=True, blank=True)
    history_complete = models.BooleanField(
        default=False,
        db_default=False,
        help_text="the recorded list reaches the first commit (else it was cut)",
    )
    history_error = models.TextField(
        blank=True, default="", db_default="", help_text="why the commit list could not be recorded"
    )

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            # Builds still resolving their commit have none yet: they do not count.
            models.UniqueConstraint(
                fields=["application", "commit", "model_version"],
                condition=~models.Q(commit=""),
                name="unique_build_inputs",
            )
        ]

    def __str__(self) -> str:
        return f"build #{self.pk} of {self.application.name} @ {self.commit[:10] or self.requested}"

    def get_absolute_url(self) -> str:
        return reverse("builds:build", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE

    @property
    def requested(self) -> str:
        """What was asked for, in words: "the head of main" or "commit 1a2b3c4"."""
        if self.requested_ref.startswith(BRANCH_REF_PREFIX):
            return f"the head of {self.requested_ref.removeprefix(BRANCH_REF_PREFIX)}"
        return f"commit {self.requested_ref or self.commit}"

    @property
    def duration(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    def can_become(self, state: str) -> bool:
        return state in self.TRANSITIONS[self.state]

    def audit_state(self) -> dict[str, Any]:
        return {"state": self.state, "failure_reason": self.failure_reason or None}


class BuildCommit(models.Model):
    """One commit of a build's history (its own commit at position 0), newest first.

    Recorded by the build job when the build succeeds, at most ``BUILD_HISTORY_COMMITS`` of
    them, so a release page lists the commits between two builds without running git.
    """

    build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="history")
    position = models.PositiveIntegerField()
    sha = models.CharField(max_length=40)
    author = models.CharField(max_length=200)
    authored_at = models.DateTimeField()
    subject = models.CharField(max_length=500)

    class Meta:
        ordering: ClassVar = ["build", "position"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["build", "position"], name="unique_build_commit_position")
        ]

    def __str__(self) -> str:
        return f"{self.sha[:10]} {self.subject}"


class Image(models.Model):
    """An image in the registry, identified by its digest, with what it contains."""

    class Source(models.TextChoices):
        BUILD = "build", "Built by the dashboard"
        SYNC = "sync", "Found by the tag sync"

    repository = models.CharField(max_length=200)
    digest = models.CharField(max_length=71)
    application = models.ForeignKey(
        Application, null=True, blank=True, on_delete=models.SET_NULL, related_name="images"
    )
    commit = models.CharField(max_length=40, blank=True)
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="images"
    )
    labels = models.JSONField(default=dict, blank=True)
    reference = models.CharField(max_length=400, help_text="pullable reference by digest")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.BUILD)
    lineage_problem = models.TextField(blank=True, help_text="why the labels could not be linked")
    image_created_at = models.DateTimeField(null=True, blank=True)
    discovered_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering: ClassVar = ["-discovered_at", "-id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["repository", "digest"], name="unique_image")
        ]

    def __str__(self) -> str:
        return f"{self.repository}@{self.digest[:19]}"

    def get_absolute_url(self) -> str:
        return reverse("builds:image", args=[self.pk])


class ImageTag(models.Model):
    """A tag as last seen in the registry; tags can move, digests cannot."""

    repository = models.CharField(max_length=200)
    tag = models.CharField(max_length=128)
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="tags")
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["repository", "tag"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["repository", "tag"], name="unique_image_tag")
        ]

    def __str__(self) -> str:
        return f"{self.repository}:{self.tag}"


class WebhookDelivery(models.Model):
    """Each accepted push webhook, kept so a replayed delivery is recognised and ignored.

    A replay is recognised by its delivery id and by the hash of its body: the body is what the
    signature covers, while the delivery id header is not signed and can be changed at will.
    """

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="webhook_deliveries")
    provider = models.CharField(max_length=20)
    delivery_id = models.CharField(max_length=100)
    body_sha256 = models.CharField(max_length=64, blank=True, default="")
    commit = models.CharField(max_length=40, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["provider", "delivery_id"], name="unique_webhook_delivery"),
            models.UniqueConstraint(
                fields=["application", "provider", "body_sha256"],
                condition=~models.Q(body_sha256=""),
                name="unique_webhook_body",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} delivery {self.delivery_id}"
