"""Discover model files published straight to the store and register them.

Data scientists often publish to the blob container directly (``<model>/<anything>``).
The sync walks the store's listing, skips objects already registered (matched by key and
etag, so unchanged blobs are never downloaded again) and registers the rest by reference.
Registration is idempotent by sha256, so a re-uploaded identical file maps to its
existing version.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

from dashboard.errors import ServiceError
from integrations.errors import IntegrationError
from integrations.modelstore import StoredObject
from models_registry import services
from models_registry.models import ModelVersion

logger = logging.getLogger(__name__)
SYNC_ACTOR = "job:sync_model_store"
BATCH = 500


@dataclass
class SyncReport:
    scanned: int = 0
    registered: int = 0
    already_known: int = 0
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "scanned": self.scanned,
            "registered": self.registered,
            "already_known": self.already_known,
            "skipped": self.skipped[:50],
            "errors": self.errors[:50],
        }


def _batches(objects: Iterator[StoredObject]) -> Iterator[list[StoredObject]]:
    while batch := list(islice(objects, BATCH)):
        yield batch


def sync_store() -> SyncReport:
    report = SyncReport()
    store = services.get_store()
    try:
        for batch in _batches(store.list("")):
            known = dict(
                ModelVersion.objects.filter(storage_key__in=[o.key for o in batch]).values_list(
                    "storage_key", "etag"
                )
            )
            for obj in batch:
                report.scanned += 1
                if obj.key in known:
                    report.already_known += 1
                    continue
                _register(obj, report)
    except IntegrationError as exc:
        raise services.store_error(exc) from exc
    logger.info("model store sync: %s", report.as_dict())
    return report


def _register(obj: StoredObject, report: SyncReport) -> None:
    name, _, rest = obj.key.partition("/")
    if not rest:
        report.skipped.append(f"{obj.key}: not under a model folder (<model>/<file>)")
        return
    try:
        services.clean_name(name)
        model = services.get_or_create_model(name, actor=SYNC_ACTOR)
        info = services.VersionInfo(metrics={}, description=f"Discovered in the model store at {obj.key}")
        _, created = services.register_referenced_version(
            model, obj.key, info, actor=SYNC_ACTOR, source=ModelVersion.Source.SYNC
        )
    except ServiceError as exc:
        report.errors.append(f"{obj.key}: {exc.message}")
        return
    if created:
        report.registered += 1
    else:
        report.already_known += 1
