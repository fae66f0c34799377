"""Discover image tags pushed outside the dashboard (e.g. by Azure Pipelines) and link them.

Incremental: tags already known with the same digest cost nothing; only new or moved tags
are resolved, and an image's config (its labels) is read once per new digest. Registries
that list tags with their digests (OCI layout, ACR) are compared in one pass; for a plain
distribution registry only tags never seen before are resolved.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice

from django.db import transaction
from django.utils import timezone

from builds import services
from builds.models import Application, Image, ImageTag
from core import adapters
from integrations.errors import IntegrationError, NotFound, PermanentError, TemporaryError, Unauthorized
from integrations.registry import Registry, TagDetails

logger = logging.getLogger(__name__)
ACTOR = "job:sync_image_tags"
BATCH = 500
RESOLVE_THREADS = 8


@dataclass
class TagSyncReport:
    repositories: int = 0
    tags_seen: int = 0
    tags_new: int = 0
    tags_moved: int = 0
    images_new: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "repositories": self.repositories,
            "tags_seen": self.tags_seen,
            "tags_new": self.tags_new,
            "tags_moved": self.tags_moved,
            "images_new": self.images_new,
            "errors": self.errors[:50],
        }


def sync_all() -> TagSyncReport:
    """Sync every application's repository; each repository's progress is saved as it goes.

    A temporary failure is raised for the job runner to retry; a refused login or permission
    at once (every repository uses the same credentials). Any other failure of one repository
    lets the others sync first, then fails the run with the reasons: never a success with the
    errors hidden in its result.
    """
    report = TagSyncReport()
    repositories = dict(
        Application.objects.values_list("image_repository", "pk").order_by("image_repository")
    )
    for repository, application_id in repositories.items():
        report.repositories += 1
        try:
            sync_repository(repository, Application.objects.get(pk=application_id), report)
        except (TemporaryError, Unauthorized):
            raise
        except IntegrationError as exc:
            report.errors.append(f"{repository}: {exc}")
    logger.info("tag sync: %s", report.as_dict())
    if report.errors:
        raise PermanentError(
            f"{len(report.errors)} of {report.repositories} repositories could not be synced: "
            + "; ".join(report.errors[:5]),
            system="tag sync",
        )
    return report


def _resolve(registry: Registry, repository: str, tag: str) -> str | None:
    try:
        return registry.resolve(repository, tag)
    except NotFound:
        return None  # deleted between the listing and now


def _tag_digests(
    registry: Registry, repository: str, known: dict[str, str]
) -> Iterator[list[tuple[str, str]]]:
    """Batches of (tag, digest) pairs that are new or moved since the last sync.

    Registries that list digests with tags are compared directly; otherwise each new tag is
    resolved, a batch at a time in parallel (the cost is one round trip per tag).
    """
    if isinstance(registry, TagDetails):
        changed = (
            (t.tag, t.digest) for t in registry.tag_details(repository) if known.get(t.tag) != t.digest
        )
        while batch := list(islice(changed, BATCH)):
            yield batch
        return
    new_tags = (tag for tag in registry.list_tags(repository) if tag not in known)
    with ThreadPoolExecutor(max_workers=RESOLVE_THREADS) as pool:
        while tags := list(islice(new_tags, BATCH)):
            digests = pool.map(lambda tag: _resolve(registry, repository, tag), tags)
            yield [(tag, digest) for tag, digest in zip(tags, digests, strict=True) if digest]


def sync_repository(repository: str, application: Application, report: TagSyncReport) -> None:
    registry = adapters.registry()
    known = dict(ImageTag.objects.filter(repository=repository).values_list("tag", "image__digest"))
    report.tags_seen += len(known)
    try:
        for batch in _tag_digests(registry, repository, known):  # each batch is saved before the next
            images = _images_for(registry, repository, application, {digest for _, digest in batch}, report)
            _save_tags(repository, batch, images, known, report)
    except NotFound:
        return  # nothing pushed to this repository yet


def _images_for(
    registry: Registry, repository: str, application: Application, digests: set[str], report: TagSyncReport
) -> dict[str, Image]:
    images = {i.digest: i for i in Image.objects.filter(repository=repository, digest__in=digests)}
    for digest in digests - images.keys():
        config = registry.get_config(repository, digest)
        images[digest] = services.record_image(
            repository=repository,
            digest=digest,
            reference=registry.reference(repository, digest),
            labels=config.labels,
            application=application,
            source=Image.Source.SYNC,
            created=config.created,
            actor=ACTOR,
        )
        report.images_new += 1
    return images


def _save_tags(
    repository: str,
    batch: list[tuple[str, str]],
    images: dict[str, Image],
    known: dict[str, str],
    report: TagSyncReport,
) -> None:
    now = timezone.now()
    new = [
        ImageTag(repository=repository, tag=t, image=images[d], seen_at=now)
        for t, d in batch
        if t not in known
    ]
    moved = [(t, d) for t, d in batch if t in known]
    with transaction.atomic():
        ImageTag.objects.bulk_create(new, ignore_conflicts=True)
        for tag, digest in moved:
            ImageTag.objects.filter(repository=repository, tag=tag).update(image=images[digest], seen_at=now)
    report.tags_new += len(new)
    report.tags_moved += len(moved)
    report.tags_seen += len(new)
