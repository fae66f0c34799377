"""What starts builds without a person: new commits (polling, webhooks) and new model versions."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from builds import services
from builds.models import Application, Build
from core import jobrunner
from core.errors import ServiceError
from integrations import git
from integrations.errors import IntegrationError, PermanentError
from models_registry.models import ModelVersion
from models_registry.signals import version_registered

logger = logging.getLogger(__name__)


@receiver(version_registered, dispatch_uid="builds.rebuild_on_new_model")
def queue_rebuilds(sender: Any, version: ModelVersion, **kwargs: Any) -> None:
    """A new version of a model queues a rebuild of each application that follows it."""
    applications = Application.objects.filter(model_id=version.model_id, rebuild_on_new_model=True)
    with transaction.atomic():
        for application in applications:
            jobrunner.enqueue(
                "builds.jobs.build_for_new_model", application.pk, version.pk, related=application
            )


def build_for_new_model(application: Application, version: ModelVersion) -> str:
    if version.status != ModelVersion.Status.ACTIVE or version.state != ModelVersion.State.READY:
        return f"{version} is {version.status} and {version.state}; not building"
    commit = application.last_seen_commit or None
    build, created = services.request_build(
        application,
        commit=commit,
        model_version=version,
        trigger=Build.Trigger.MODEL,
        actor="job:new_model_version",
    )
    return f"build #{build.pk} {'queued' if created else 'already exists'}"


def poll_application(application: Application) -> str:
    """Build the head of the default branch when it moved since the last poll.

    A failure is recorded on the application (its page shows it); a temporary one is left to
    the next poll, a permanent one (refused credentials, no such repository) is raised.
    """
    try:
        head = git.ls_remote_head(application.repository_url, application.default_branch)
    except IntegrationError as exc:
        Application.objects.filter(pk=application.pk).update(
            last_polled_at=timezone.now(), poll_error=str(exc)
        )
        if isinstance(exc, PermanentError):
            raise
        return f"{application}: {exc}"
    Application.objects.filter(pk=application.pk).update(last_polled_at=timezone.now(), poll_error="")
    if head == application.last_seen_commit:
        return f"{application}: no new commit"
    return note_new_commit(application, head, trigger=Build.Trigger.COMMIT, actor="job:poll_repositories")


def note_new_commit(application: Application, commit: str, *, trigger: str, actor: Any) -> str:
    """Remember the branch head and build it with the latest active model version."""
    Application.objects.filter(pk=application.pk).update(last_seen_commit=commit)
    application.last_seen_commit = commit
    try:
        build, created = services.request_build(application, commit=commit, trigger=trigger, actor=actor)
    except ServiceError as exc:
        logger.warning("not building %s @ %s: %s", application, commit, exc.message)
        return f"{application} @ {commit[:10]}: not built: {exc.message}"
    return f"{application} @ {commit[:10]}: build #{build.pk} {'queued' if created else 'exists'}"
