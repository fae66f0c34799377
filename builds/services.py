"""Every write to applications, builds and images goes through these functions (each audited)."""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from builds.history import RecordedHistory
from builds.models import BRANCH_REF_PREFIX, COMMIT_PATTERN, Application, Build, BuildCommit, Image
from core import audit, jobrunner, transitions
from core.audit import Actor
from core.errors import ConflictError, NotFoundError, ServiceError
from models_registry.models import ModelVersion

SHORT_SHA = re.compile(r"^[0-9a-f]{7,40}$")


def create_application(fields: dict[str, Any], *, actor: Actor) -> Application:
    try:
        with transaction.atomic():
            application = Application(**fields)
            application.full_clean(validate_unique=False)  # a duplicate name is a 409, below
            application.save()
            after = audit.without_secrets(application.audit_state(), Application.SECRET_FIELDS)
            audit.record("application.create", application, actor=actor, after=after)
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
        audit.record_update(
            "application.update",
            application,
            actor=actor,
            before=before,
            after=application.audit_state(),
            secrets=Application.SECRET_FIELDS,
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


def requested_ref(application: Application, commit: str | None) -> str:
    """What to build, as the build job will resolve it: a sha (prefix), or the branch's head.

    Only the syntax is checked here; whether the commit exists is the build job's question,
    so a request never waits for git.
    """
    commit = (commit or "").strip().lower()
    if not commit:
        return BRANCH_REF_PREFIX + application.default_branch
    if not SHORT_SHA.match(commit):
        raise ServiceError(f"{commit!r} is not a commit sha (7-40 hex characters).", field="commit")
    return commit


def check_buildable(application: Application, version: ModelVersion) -> None:
    if version.model_id != application.model_id:
        raise ServiceError(
            f"{version} is not a version of {application.model.name}, the model {application} embeds.",
            field="model_version",
        )
    if reason := version.unusable_reason():
        raise ConflictError(f"{reason}; it cannot be built.", field="model_version")


def _same_request(application: Application, ref: str, version: ModelVersion) -> Build | None:
    """The build these inputs already have: by commit once known, else a queued one still resolving."""
    if COMMIT_PATTERN.match(ref):
        return Build.objects.filter(application=application, commit=ref, model_version=version).first()
    return Build.objects.filter(
        application=application,
        requested_ref=ref,
        model_version=version,
        commit="",
        state__in=Build.ACTIVE,
    ).first()


def request_build(
    application: Application,
    *,
    commit: str | None = None,
    model_version: ModelVersion | None = None,
    trigger: str = Build.Trigger.MANUAL,
    actor: Actor,
) -> tuple[Build, bool]:
    """Record and queue a build of (application, commit, model version); no git is run here.

    A full sha is the commit itself; a prefix or the branch's head (no ``commit``) is resolved
    by the build job (``record_commit``). The same inputs return the existing build (False).
    """
    ref = requested_ref(application, commit)
    version = model_version or latest_model_version(application)
    check_buildable(application, version)
    if existing := _same_request(application, ref, version):
        return existing, False
    sha = ref if COMMIT_PATTERN.match(ref) else ""
    try:
        with transaction.atomic():
            build = Build.objects.create(
                application=application,
                commit=sha,
                requested_ref=ref,
                model_version=version,
                trigger=trigger,
                requested_by=audit.user_of(actor),
                image_tag=image_tag(sha, version) if sha else "",
            )
            after = {
                "state": build.state,
                "commit": sha or None,
                "requested": build.requested,
                "model_version": str(version),
                "trigger": trigger,
            }
            audit.record("build.create", build, actor=actor, after=after)
            jobrunner.enqueue("builds.jobs.run_build", build.pk, queue="builds", related=build, actor=actor)
    except IntegrityError:
        existing = _same_request(application, ref, version)
        if existing is None:
            raise
        return existing, False
    return build, True


def image_tag(sha: str, version: ModelVersion) -> str:
    return f"{sha[:12]}-m{version.version}"


def record_commit(build: Build, sha: str, *, actor: Actor) -> Build | None:
    """Give a resolving build its commit; returns the existing build when these inputs had one.

    "One build per (application, commit, model version)" holds after resolution too: a build
    whose commit turns out to be built already with its model version is cancelled as a
    duplicate that points at the existing build (``duplicate_of``), in the same transaction.
    """
    with transaction.atomic():
        build = Build.objects.select_for_update().get(pk=build.pk)
        if build.commit:  # a job that runs twice resolves once
            return None
        same = Build.objects.filter(
            application_id=build.application_id, commit=sha, model_version_id=build.model_version_id
        )
        existing = same.exclude(pk=build.pk).first()
        if existing is None:
            try:
                with transaction.atomic():  # a savepoint: a concurrent twin may win the race
                    Build.objects.filter(pk=build.pk).update(
                        commit=sha, image_tag=image_tag(sha, build.model_version)
                    )
            except IntegrityError:
                existing = same.exclude(pk=build.pk).first()
        if existing is None:
            after = {"commit": sha, "requested": build.requested}
            audit.record("build.resolved", build, actor=actor, before={"commit": None}, after=after)
            return None
        reason = f"duplicate: {build.requested} is {sha[:12]}, already built with {build.model_version} by build #{existing.pk}"
        transition(build, Build.State.CANCELLED, actor=actor, failure_reason=reason, duplicate_of=existing)
        return existing


def transition(build: Build, to: str, *, actor: Actor, **fields: Any) -> bool:
    """Move a build to ``to`` if its current state allows it; audited. False if it had moved on."""
    now = timezone.now()
    if to == Build.State.RUNNING:
        fields.setdefault("started_at", now)
    if to in Build.TERMINAL:
        fields.setdefault("finished_at", now)
    return transitions.move(build, to, action_prefix="build", actor=actor, **fields)


def finish_build(build: Build, image: Image, history: RecordedHistory, *, actor: Actor) -> bool:
    """The build succeeded with ``image``: its state, image and commit list commit together."""
    with transaction.atomic():
        moved = transition(build, Build.State.SUCCEEDED, actor=actor, image=image, **_history_fields(history))
        if moved:
            _store_history(build, history)
    return moved


def record_history(build: Build, history: RecordedHistory, *, actor: Actor) -> None:
    """Record (again) the commit list of a succeeded build, e.g. one built before lists were kept."""
    with transaction.atomic():
        build = Build.objects.select_for_update().get(pk=build.pk)
        before = _history_state(build)
        Build.objects.filter(pk=build.pk).update(**_history_fields(history))
        _store_history(build, history)
        build.refresh_from_db()
        audit.record("build.history_recorded", build, actor=actor, before=before, after=_history_state(build))


def _history_state(build: Build) -> dict[str, Any]:
    return {
        "commits": build.history.count(),
        "complete": build.history_complete,
        "error": build.history_error or None,
    }


def _history_fields(history: RecordedHistory) -> dict[str, Any]:
    if history.error:
        return {"history_recorded_at": None, "history_complete": False, "history_error": history.error}
    return {"history_recorded_at": timezone.now(), "history_complete": history.complete, "history_error": ""}


def _store_history(build: Build, history: RecordedHistory) -> None:
    BuildCommit.objects.filter(build=build).delete()  # a job that runs twice records one list
    BuildCommit.objects.bulk_create(
        BuildCommit(
            build=build,
            position=position,
            sha=commit.sha,
            author=commit.author[:200],
            authored_at=commit.date,
            subject=commit.subject[:500],
        )
        for position, commit in enumerate(history.commits)
    )


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
    if build.duplicate_of_id:
        raise ConflictError(
            f"Build #{build.pk} duplicates build #{build.duplicate_of_id}; retry or release that one."
        )
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
