"""A version's content: pinning it when it is registered by key, reading it back unchanged.

A version named by a store key starts *pending*. ``pin_version`` (the ``pin_version`` job, in
a worker) hashes the object and pins those bytes (the store's blob version id, or a copy under
the content-addressed key ``<model>/<sha256>/<file>``), then the version becomes *ready*, or
*failed* with the reason. ``read_version`` reads exactly the pinned bytes and checks them on
the way out. The store sync marks versions whose pinned bytes went away *missing*.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from django.db import IntegrityError, transaction

from core import adapters, audit, jobrunner
from core.audit import Actor
from core.errors import ConflictError, NotFoundError
from integrations.errors import IntegrationError, IntegrityMismatch, TemporaryError
from integrations.modelstore import PinnedObject, verified
from models_registry import services
from models_registry.models import ModelVersion
from models_registry.signals import version_registered

logger = logging.getLogger(__name__)
PIN_ACTOR = "job:pin_version"
State = ModelVersion.State


def pin_version(version_pk: int) -> str:
    """Hash and pin a pending version; idempotent (a version no longer pending is left alone)."""
    version = ModelVersion.objects.select_related("model").get(pk=version_pk)
    if version.state != State.PENDING:
        return f"{version} is {version.state}; nothing to do"
    try:
        pinned = adapters.model_store().pin(
            version.source_key,
            etag=version.source_etag,
            target_for=lambda sha256: services.content_key(version.model.name, sha256, version.filename),
        )
    except TemporaryError as exc:
        if not jobrunner.is_last_attempt():
            _note(version, f"the model store did not answer; trying again: {exc}")
            raise
        fail(version, f"the model store did not answer, gave up: {exc}")
        raise
    except IntegrationError as exc:  # gone, refused, changed under us: retrying will not help
        fail(version, str(exc))
        raise
    return _settle(version, pinned)


def _settle(version: ModelVersion, pinned: PinnedObject) -> str:
    duplicate = version.model.versions.filter(sha256=pinned.sha256).exclude(pk=version.pk).first()
    if duplicate is None:
        try:
            if become_ready(version, pinned):
                return f"{version} is ready: sha256 {pinned.sha256}"
            return f"{version} was settled meanwhile; nothing changed"
        except IntegrityError:  # another version took this content first
            duplicate = version.model.versions.filter(sha256=pinned.sha256).exclude(pk=version.pk).first()
    _drop_unused_copy(pinned)
    fail(version, f"same content as {duplicate} (sha256 {pinned.sha256}); use {duplicate}")
    return f"{version} duplicates {duplicate}"


def become_ready(version: ModelVersion, pinned: PinnedObject) -> bool:
    """Record the pinned content and mark the version ready (once); sends ``version_registered``."""
    stored, source = pinned.stored, pinned.source
    fields = {
        "sha256": pinned.sha256,
        "size": stored.size,
        "storage_key": stored.key,
        "blob_version_id": stored.version_id,
        "etag": stored.etag,
        "source_etag": version.source_etag or source.etag,
        "last_modified": source.last_modified,
        "content_md5": stored.content_md5 or source.content_md5,
    }
    moved = move(version, State.READY, reason="", actor=PIN_ACTOR, **fields)
    if moved:
        transaction.on_commit(lambda: version_registered.send(ModelVersion, version=version))
    return moved


def fail(version: ModelVersion, reason: str) -> bool:
    return move(version, State.FAILED, reason=reason, actor=PIN_ACTOR)


def move(version: ModelVersion, to: str, *, reason: str, actor: Actor, **fields: Any) -> bool:
    """Change a version's content state if its current state allows it; audited, under a row lock.

    Returns False, changing nothing, when the version had already moved on. ``version`` is
    refreshed either way.
    """
    with transaction.atomic():
        current = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
        if not current.can_change_state_to(to):
            moved = False
        else:
            before = current.audit_content()
            for name, value in {"state": to, "state_reason": reason, **fields}.items():
                setattr(current, name, value)
            current.save()
            audit.record(
                f"model_version.{to}", current, actor=actor, before=before, after=current.audit_content()
            )
            moved = True
    version.refresh_from_db()
    return moved


def _note(version: ModelVersion, reason: str) -> None:
    """Why a pending version is still pending (shown on its page); not a change of state."""
    ModelVersion.objects.filter(pk=version.pk, state=State.PENDING).update(state_reason=reason[:2000])


def _drop_unused_copy(pinned: PinnedObject) -> None:
    """A duplicate's content-addressed copy under another file name is nobody's: remove it."""
    key = pinned.stored.key
    if key != pinned.source.key and not ModelVersion.objects.filter(storage_key=key).exists():
        try:
            adapters.model_store().delete(key)
        except IntegrationError as exc:
            logger.warning("could not remove the unused copy %s: %s", key, exc)


def read_version(version: ModelVersion) -> Iterator[bytes]:
    """The version's registered bytes, checked as they are read (other bytes end in IntegrityMismatch).

    Reads name the pinned blob version, or send the pinned etag (If-Match), so content that
    changed in the store is refused before a byte of it is served.
    """
    if version.state not in (State.READY, State.MISSING) or not version.storage_key:
        raise ConflictError(f"{version} has no content to read: {version.unusable_reason()}.")
    chunks = adapters.model_store().open(
        version.storage_key,
        version_id=version.blob_version_id,
        etag="" if version.blob_version_id else version.etag,
    )
    return verified(
        chunks, sha256=version.sha256, size=version.size or 0, what=f"the stored content of {version}"
    )


def download(version: ModelVersion) -> Iterator[bytes]:
    """The bytes a download serves: :func:`read_version` with its refusals as service errors.

    The first chunk is read eagerly so that a refused read (gone, changed, unreachable) is an
    error answer rather than a broken download.
    """
    try:
        chunks = read_version(version)
        first = next(chunks, b"")
    except IntegrationError as exc:
        if version.state == ModelVersion.State.MISSING:
            raise NotFoundError(f"{version} is missing from the model store: {version.state_reason}") from exc
        if isinstance(exc, IntegrityMismatch):
            raise ConflictError(
                f"The store no longer holds the registered bytes of {version}, so they are not served: {exc}"
            ) from exc
        raise services.store_error(exc) from exc

    def body() -> Iterator[bytes]:
        yield first
        yield from chunks

    return body()
