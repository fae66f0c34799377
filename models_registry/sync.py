"""Discover model files published straight to the store, and notice registered ones that went away.

Data scientists often publish to the blob container directly (``<model>/<anything>``), and
often to the same name again ("the latest model"). The sync walks the store's listing and
queues every object it has not seen with that etag as a pending version (a worker hashes and
pins it; identical content ends as a failed duplicate naming the existing version). Keys
under ``<model>/<sha256>/`` are the registry's own pinned copies and are never registered.

After a complete listing it checks that every ready version's pinned bytes are still there:
a deleted blob, or one changed in place, makes the version *missing* with the reason; a
missing one found again becomes ready again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

from core import adapters, jobrunner
from core.errors import ServiceError
from core.models import JobRun
from integrations.errors import NotFound
from integrations.modelstore import ModelStore, StoredObject
from models_registry import content, services
from models_registry.models import ModelVersion

logger = logging.getLogger(__name__)
SYNC_ACTOR = "job:sync_model_store"
PIN_JOB = services.PIN_JOB
BATCH = 500
State = ModelVersion.State


@dataclass
class SyncReport:
    scanned: int = 0
    registered: int = 0  # queued as pending versions
    already_known: int = 0
    missing: int = 0
    found_again: int = 0
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "scanned": self.scanned,
            "registered": self.registered,
            "already_known": self.already_known,
            "missing": self.missing,
            "found_again": self.found_again,
            "skipped": self.skipped[:50],
            "errors": self.errors[:50],
        }


# key -> (etag, version id) of every object listed: enough to tell what is still there
Listing = dict[str, tuple[str, str]]


def _batches(objects: Iterator[StoredObject]) -> Iterator[list[StoredObject]]:
    while batch := list(islice(objects, BATCH)):
        yield batch


def sync_store() -> SyncReport:
    """Raises the store's IntegrationError when listing fails (then nothing is marked missing)."""
    report = SyncReport()
    store = adapters.model_store()
    listing: Listing = {}
    for batch in _batches(store.list("")):
        listing.update((o.key, (o.etag, o.version_id)) for o in batch)
        _register_new(batch, report)
    _check_presence(store, listing, report)
    _resume_lost_pins()
    logger.info("model store sync: %s", report.as_dict())
    return report


def _register_new(batch: list[StoredObject], report: SyncReport) -> None:
    keys = [o.key for o in batch]
    known = set(ModelVersion.objects.filter(source_key__in=keys).values_list("source_key", "source_etag"))
    for obj in batch:
        report.scanned += 1
        if services.is_content_key(obj.key) or (obj.key, obj.etag) in known:
            report.already_known += 1
        else:
            _register(obj, report)


def _register(obj: StoredObject, report: SyncReport) -> None:
    name, _, rest = obj.key.partition("/")
    if not rest:
        report.skipped.append(f"{obj.key}: not under a model folder (<model>/<file>)")
        return
    try:
        services.clean_name(name)
        model = services.get_or_create_model(name, actor=SYNC_ACTOR)
        info = services.VersionInfo(metrics={}, description=f"Discovered in the model store at {obj.key}")
        _, created = services.request_referenced_version(
            model, obj.key, info, actor=SYNC_ACTOR, source=ModelVersion.Source.SYNC, etag=obj.etag
        )
    except ServiceError as exc:
        report.errors.append(f"{obj.key}: {exc.message}")
        return
    if created:
        report.registered += 1
    else:
        report.already_known += 1


def _check_presence(store: ModelStore, listing: Listing, report: SyncReport) -> None:
    versions = (
        ModelVersion.objects.filter(state__in=[State.READY, State.MISSING])
        .exclude(storage_key="")
        .select_related("model")
        .order_by("pk")
    )
    for version in versions.iterator(chunk_size=BATCH):
        problem = _absence(store, version, listing.get(version.storage_key))
        if problem and version.state == State.READY:
            report.missing += content.move(version, State.MISSING, reason=problem, actor=SYNC_ACTOR)
        elif not problem and version.state == State.MISSING:
            report.found_again += content.move(version, State.READY, reason="", actor=SYNC_ACTOR)


def _absence(store: ModelStore, version: ModelVersion, listed: tuple[str, str] | None) -> str:
    """Why the version's pinned bytes are no longer in the store ("" when they are)."""
    key = version.storage_key
    if version.blob_version_id:
        if listed and listed[1] == version.blob_version_id:
            return ""
        try:  # an older version of the blob: still kept unless someone deleted it
            store.stat(key, version_id=version.blob_version_id)
        except NotFound:
            return f"version {version.blob_version_id} of {key} was deleted from the model store"
        return ""
    if listed is None:
        return f"{key} was deleted from the model store"
    if version.etag and listed[0] != version.etag:
        return f"{key} was overwritten in the model store: it no longer holds the registered bytes"
    return ""


def _resume_lost_pins() -> None:
    """Queue the pin job again for pending versions whose job was lost (a worker or Redis died)."""
    jobrunner.recover_lost_runs(name=PIN_JOB)
    active = JobRun.objects.filter(name=PIN_JOB, status__in=JobRun.ACTIVE).values_list("args", flat=True)
    waiting = {args[0] for args in active if args}
    for version in ModelVersion.objects.filter(state=State.PENDING).exclude(pk__in=waiting):
        jobrunner.enqueue(PIN_JOB, version.pk, related=version, actor=SYNC_ACTOR)
