"""Every write to the model registry goes through these functions.

Each runs its database work in one transaction and writes the audit event in it. Store
I/O happens outside the transaction; when the database part fails after an object was
stored, the object is removed again unless another version refers to it. Only an upload
talks to the store in the web request (it streams the file there); an object named by key
becomes a pending version that a worker hashes and pins (``models_registry.pinning``).
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max

from core import adapters, audit, jobrunner, safejson
from core.audit import Actor
from core.errors import ConflictError, NotFoundError, ServiceError, UnavailableError
from integrations.errors import IntegrationError, IntegrityMismatch, NotFound, TemporaryError
from integrations.hashing import sha256_of
from integrations.modelstore import validate_key
from models_registry.models import ModelVersion, RegisteredModel, validate_model_name
from models_registry.signals import version_registered
from models_registry.uploads import received_sha256

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
PIN_JOB = "models_registry.jobs.pin_version"


def content_key(model_name: str, sha256: str, filename: str) -> str:
    """Where the registry keeps a version's own copy of its bytes: named by their digest."""
    return f"{model_name}/{sha256}/{filename or 'model'}"


def is_content_key(key: str) -> bool:
    """Keys the registry wrote itself (``<model>/<sha256>/<file>``); the store sync never registers them."""
    parts = key.split("/")
    return len(parts) == 3 and SHA256_HEX.fullmatch(parts[1]) is not None


def store_error(exc: IntegrationError) -> ServiceError:
    if isinstance(exc, TemporaryError):
        return UnavailableError(f"The model store is unreachable: {exc}. Nothing was registered; try again.")
    if isinstance(exc, NotFound):
        return NotFoundError(str(exc))
    return ServiceError(f"The model store refused the request: {exc}")


def clean_metrics(value: Any) -> dict[str, float | int]:
    """Metrics are a flat JSON object of finite numbers, e.g. {"auc": 0.91, "rows": 120000}.

    Accepts the object itself or its JSON text (as sent in a form or multipart field).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        try:
            value = safejson.loads(value)
        except ValueError as exc:
            raise ServiceError(f"metrics is not valid JSON: {exc}", field="metrics") from None
    if not isinstance(value, dict):
        raise ServiceError('metrics must be a JSON object of numbers, e.g. {"auc": 0.91}', field="metrics")
    for key, number in value.items():
        valid_number = isinstance(number, int | float) and not isinstance(number, bool)
        if not valid_number or not math.isfinite(number):
            raise ServiceError(f"metric {key!r} must be a finite number, not {number!r}", field="metrics")
        if not key or len(key) > 100:
            raise ServiceError("metric names must be 1-100 characters", field="metrics")
    return value


def clean_name(name: str) -> str:
    try:
        validate_model_name(name)
    except ValidationError as exc:
        raise ServiceError(f"Invalid model name {name!r}: {exc.messages[0]}", field="name") from None
    return name


def create_model(name: str, *, description: str = "", actor: Actor) -> RegisteredModel:
    clean_name(name)
    try:
        with transaction.atomic():
            model = RegisteredModel.objects.create(
                name=name, description=description, owner=audit.user_of(actor)
            )
            audit.record("model.create", model, actor=actor, after={"name": name, "description": description})
    except IntegrityError:
        raise ConflictError(f"A model named {name!r} already exists.", field="name") from None
    return model


def update_model(model: RegisteredModel, *, description: str, actor: Actor) -> RegisteredModel:
    with transaction.atomic():
        before = {"description": model.description}
        model.description = description
        model.save(update_fields=["description"])
        audit.record("model.update", model, actor=actor, before=before, after={"description": description})
    return model


def get_or_create_model(name: str, *, actor: Actor) -> RegisteredModel:
    existing = RegisteredModel.objects.filter(name=name).first()
    if existing:
        return existing
    try:
        return create_model(name, actor=actor)
    except ConflictError:
        return RegisteredModel.objects.get(name=name)


@dataclass(frozen=True)
class VersionInfo:
    """What the caller says about a new version (everything but the content)."""

    metrics: dict[str, float | int]
    framework: str = ""
    description: str = ""
    filename: str = ""


def register_uploaded_version(
    model: RegisteredModel, upload: Any, info: VersionInfo, *, actor: Actor
) -> tuple[ModelVersion, bool]:
    """Register an uploaded file (hashed while it streamed in); returns (version, created).

    Identical content registered again returns the existing version.
    """
    if upload.size == 0:
        raise ServiceError("The file is empty; a model version needs content.", field="file")
    received = received_sha256(upload)
    sha256 = received or sha256_of(upload.chunks())[0]
    existing = model.versions.filter(sha256=sha256).first()
    if existing:
        return existing, False
    key = content_key(model.name, sha256, info.filename)
    store = adapters.model_store()
    try:
        if received:  # hashed as it arrived, in a temporary file
            stored = store.put_file(Path(upload.temporary_file_path()), key, size=upload.size, sha256=sha256)
        else:
            upload.seek(0)
            stored = store.put(key, upload, size=upload.size, sha256=sha256)
    except IntegrityMismatch as exc:
        raise ServiceError(f"The upload changed while it was stored: {exc}") from exc
    except IntegrationError as exc:
        raise store_error(exc) from exc
    fields = {"etag": stored.etag, "last_modified": stored.last_modified, "content_md5": stored.content_md5}
    fields["blob_version_id"] = stored.version_id
    return _create_version(
        model, key, sha256, upload.size, info, source=ModelVersion.Source.UPLOAD, actor=actor, stored=fields
    )


def request_referenced_version(
    model: RegisteredModel,
    key: str,
    info: VersionInfo,
    *,
    actor: Actor,
    source: str = ModelVersion.Source.REFERENCE,
    etag: str = "",
) -> tuple[ModelVersion, bool]:
    """Register an object already in the store as a *pending* version; a worker hashes and pins it.

    Nothing here talks to the store: ``models_registry.jobs.pin_version`` reads the object,
    records its sha256 and pins its bytes, then the version becomes ready (or failed, with the
    reason). ``etag`` is the object's etag when the caller listed it (the store sync), so the
    worker pins exactly that content. Returns (version, created): a key that already has a
    pending version returns that one.
    """
    try:
        validate_key(key)
    except IntegrationError as exc:
        raise ServiceError(exc.message, field="key") from None
    waiting = model.versions.filter(source_key=key, state=ModelVersion.State.PENDING)
    # A pending version named without an etag pins whatever the key holds when its job runs.
    if existing := waiting.filter(source_etag__in=[etag, ""]).first() if etag else waiting.first():
        return existing, False
    info = VersionInfo(
        info.metrics, info.framework, info.description, info.filename or key.rsplit("/", 1)[-1]
    )
    with transaction.atomic():
        version = _new_version(
            model,
            info,
            source=source,
            actor=actor,
            state=ModelVersion.State.PENDING,
            source_key=key,
            source_etag=etag,
        )
        after = {"version": version.version, "state": version.state, "source_key": key, "source_etag": etag}
        audit.record("model_version.register", version, actor=actor, after=after)
        jobrunner.enqueue(PIN_JOB, version.pk, related=version, actor=actor)
    return version, True


def _new_version(model: RegisteredModel, info: VersionInfo, *, actor: Actor, **fields: Any) -> ModelVersion:
    """Create the next-numbered version; call inside a transaction (the model row is locked)."""
    RegisteredModel.objects.select_for_update().filter(pk=model.pk).first()
    number = (model.versions.aggregate(n=Max("version"))["n"] or 0) + 1
    return ModelVersion.objects.create(
        model=model,
        version=number,
        filename=info.filename,
        framework=info.framework,
        description=info.description,
        metrics=info.metrics,
        created_by=audit.user_of(actor),
        **fields,
    )


def _create_version(
    model: RegisteredModel,
    key: str,
    sha256: str,
    size: int,
    info: VersionInfo,
    *,
    source: str,
    actor: Actor,
    stored: dict[str, Any],
) -> tuple[ModelVersion, bool]:
    """Record an uploaded object (already stored under its content-addressed key) as a ready version."""
    try:
        with transaction.atomic():
            version = _new_version(
                model,
                info,
                source=source,
                actor=actor,
                sha256=sha256,
                size=size,
                storage_key=key,
                source_key=key,
                source_etag=stored["etag"],
                **stored,
            )
            after = {"version": version.version, "sha256": sha256, "size": size, "status": version.status}
            audit.record("model_version.register", version, actor=actor, after=after)
            transaction.on_commit(lambda: version_registered.send(ModelVersion, version=version))
    except IntegrityError:
        # Same content registered concurrently: answer with the winner's version.
        existing = model.versions.filter(sha256=sha256).first()
        if existing:
            return existing, False
        _forget_object(key)
        raise
    except BaseException:
        _forget_object(key)
        raise
    return version, True


def _forget_object(key: str) -> None:
    if not ModelVersion.objects.filter(storage_key=key).exists():
        # If this fails too the object stays unreferenced under its content-addressed key, which
        # the store sync leaves alone; uploading the file again reuses it.
        with contextlib.suppress(IntegrationError):
            adapters.model_store().delete(key)


def change_status(version: ModelVersion, status: str, *, reason: str = "", actor: Actor) -> ModelVersion:
    if status not in ModelVersion.Status.values:
        raise ServiceError(f"Unknown status {status!r}; use one of {', '.join(ModelVersion.Status.values)}.")
    reason = reason.strip()
    if status == ModelVersion.Status.BLOCKED and not reason:
        raise ServiceError("Blocking a version needs a reason.", field="status_reason")
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
        if version.status == status:
            return version
        if not version.can_become(status):
            raise ConflictError(f"{version} is {version.status}; it cannot become {status}.")
        before = version.audit_state()
        version.status = status
        version.status_reason = reason
        version.save(update_fields=["status", "status_reason"])
        audit.record("model_version.status", version, actor=actor, before=before, after=version.audit_state())
    return version
