"""Every write to applications, builds and images goes through these functions (each audited)."""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from builds.integration import get_git_cache
from builds.models import Application, Build, Image
from dashboard import audit, jobrunner, transitions
from dashboard.audit import Actor
from dashboard.errors import ConflictError, NotFoundError, ServiceError, UnavailableError
from integrations import git
from integrations.errors import IntegrationError, NotFound, TemporaryError
from models_registry.models import ModelVersion

SHORT_SHA = re.compile(r"^[0-9a-f]{7,40}$")


def git_error(exc: IntegrationError) -> ServiceError:
    if isinstance(exc, TemporaryError):
        return UnavailableError(f"The git repository could not be reached: {exc}")
    if isinstance(exc, NotFound):
        return ServiceError(str(exc), field="commit")
    return ServiceError(f"git refused the request: {exc}")


def create_application(fields: dict[str, Any], *, actor: Actor) -> Application:
    try:
        with transaction.atomic():
            application = Application(**fields)
            application.full_clean(validate_unique=False)  # a duplicate name is a 409, below
            application.save()
            audit.record("application.create", application, actor=actor, after=application.audit_state())
    except IntegrityError:
        raise ConflictError(
            f"An application named {fields.get('name')!r} already exists.", field="name"
        ) from None
    return application


def update_application(application: Application, fields: dict[str, Any], *, actor: Actor) -> Application:
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        before = application.audit_state()
        for name, value in fields.items():
            if name in Application.EDITABLE_FIELDS:
                setattr(application, name, value)
        application.full_clean()
        application.save()
        audit.record(
            "application.update", application, actor=actor, before=before, after=application.audit_state()
        )
    return application


def latest_model_version(application: Application) -> ModelVersion:
    versions = application.model.versions.filter(
        status=ModelVersion.Status.ACTIVE, state=ModelVersion.State.READY
    )
    version = versions.order_by("-version").first()
    if version is None:
        raise ConflictError(f"Model {application.model.name} has no active, ready version to build with.")
    return version


def resolve_commit(application: Application, commit: str | None) -> str:
    """A full commit sha: the head of the default branch, or the given sha (prefix) checked in git."""
    try:
        if not commit:
            return git.ls_remote_head(application.repository_url, application.default_branch)
        if not SHORT_SHA.match(commit):
            raise ServiceError(f"{commit!r} is not a commit sha (7-40 hex characters).", field="commit")
        return git.resolve_commit(application.repository_url, commit, cache=get_git_cache())
    except IntegrationError as exc:
        raise git_error(exc) from exc


def check_buildable(application: Application, version: ModelVersion) -> None:
    if version.model_id != application.model_id:
        raise ServiceError(
            f"{version} is not a version of {application.model.name}, the model {application} embeds.",
            field="model_version",
        )
    if reason := version.unusable_reason():
        raise ConflictError(f"{reason}; it cannot be built.", field="model_version")


def request_build(
    application: Application,
    *,
    commit: str | None = None,
    model_version: ModelVersion | None = None,
    trigger: str = Build.Trigger.MANUAL,
    actor: Actor,
) -> tuple[Build, bool]:
    """Create and queue the build of (application, commit, model version), or return the existing one."""
    version = model_version or latest_model_version(application)
    check_buildable(application, version)
    sha = resolve_commit(application, commit)
    existing = Build.objects.filter(application=application, commit=sha, model_version=version).first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            build = Build.objects.create(
                application=application,
                commit=sha,
                model_version=version,
                trigger=trigger,
                requested_by=audit.user_of(actor),
                image_tag=f"{sha[:12]}-m{version.version}",
            )
            after = {"state": build.state, "commit": sha, "model_version": str(version), "trigger": trigger}
            audit.record("build.create", build, actor=actor, after=after)
            jobrunner.enqueue("builds.jobs.run_build", build.pk, queue="builds", related=build, actor=actor)
    except IntegrityError:
        existing = Build.objects.filter(application=application, commit=sha, model_version=version).first()
        if existing is None:
            raise
        return existing, False
    return build, True


def transition(build: Build, to: str, *, actor: Actor, **fields: Any) -> bool:
    """Move a build to ``to`` if its current state allows it; audited. False if it had moved on."""
    now = timezone.now()
    if to == Build.State.RUNNING:
        fields.setdefault("started_at", now)
    if to in Build.TERMINAL:
        fields.setdefault("finished_at", now)
    return transitions.move(build, to, action_prefix="build", actor=actor, **fields)


def cancel_build(build: Build, *, actor: Actor) -> Build:
    if build.state == Build.State.QUEUED:
        transition(build, Build.State.CANCELLED, actor=actor, failure_reason="cancelled before it started")
    elif build.state == Build.State.RUNNING:
        with transaction.atomic():
            Build.objects.filter(pk=build.pk).update(cancel_requested=True)
            audit.record("build.cancel_requested", build, actor=actor, before={"state": "running"})
    else:
        raise ConflictError(f"{build} is {build.state}; only queued or running builds can be cancelled.")
    build.refresh_from_db()
    return build


def retry_build(build: Build, *, actor: Actor) -> Build:
    if build.state not in (Build.State.FAILED, Build.State.CANCELLED):
        raise ConflictError(f"{build} is {build.state}; only failed or cancelled builds can be retried.")
    check_buildable(build.application, build.model_version)
    with transaction.atomic():
        moved = transition(
            build,
            Build.State.QUEUED,
            actor=actor,
            failure_reason="",
            cancel_requested=False,
            attempt=build.attempt + 1,
            external_id="",
            external_url="",
            started_at=None,
            finished_at=None,
        )
        if moved:
            jobrunner.enqueue("builds.jobs.run_build", build.pk, queue="builds", related=build, actor=actor)
    build.refresh_from_db()
    return build


def get_build(pk: int) -> Build:
    build = Build.objects.select_related("application", "model_version__model", "image").filter(pk=pk).first()
    if build is None:
        raise NotFoundError(f"No build #{pk}.")
    return build


def record_image(
    *,
    repository: str,
    digest: str,
    reference: str,
    labels: dict[str, str],
    application: Application | None,
    source: str,
    created: Any = None,
    actor: Actor,
) -> Image:
    """Create (once) the image with this digest, linked to its commit and model version by labels."""
    from builds.lineage import link_labels

    existing = Image.objects.filter(repository=repository, digest=digest).first()
    if existing:
        return existing
    commit, version, problem = link_labels(labels)
    try:
        with transaction.atomic():
            image = Image.objects.create(
                repository=repository,
                digest=digest,
                reference=reference,
                labels=labels,
                application=application,
                commit=commit,
                model_version=version,
                lineage_problem=problem,
                source=source,
                image_created_at=created,
            )
            after = {"digest": digest, "commit": commit, "model_version": str(version) if version else None}
            audit.record("image.record", image, actor=actor, after=after)
    except IntegrityError:
        return Image.objects.get(repository=repository, digest=digest)
    return image
