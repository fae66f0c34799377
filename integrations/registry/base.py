"""The container registry interface: where built images are pushed and read back.

Implementations push blobs first and the manifest last, so a tag only ever points at an
image whose every blob is present. Reads verify every digest while streaming.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from integrations.errors import IntegrityMismatch, PermanentError
from integrations.images.digests import DIGEST_RE
from integrations.images.oci import BuiltImage, ImageConfig

# Repository and tag grammar of the OCI distribution spec
# (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests).
REPOSITORY_RE = re.compile(
    r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$"
)
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
MAX_DOCUMENT_SIZE = 4 * 1024 * 1024  # manifests and configs are small; refuse to buffer more

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_ACCEPT = f"{OCI_MANIFEST}, {DOCKER_MANIFEST}"


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str
    digest: str


@dataclass(frozen=True)
class TagInfo:
    tag: str
    digest: str
    created: datetime | None


@dataclass(frozen=True)
class PulledImage:
    manifest_digest: str
    config: ImageConfig
    layer_paths: list[Path] = field(default_factory=list)
    manifest_path: Path | None = None
    config_path: Path | None = None


class Registry(Protocol):
    kind: str

    def check(self) -> None:
        """Raise an IntegrationError when the registry cannot be reached or refuses us."""
        ...

    def push_image(self, repository: str, tag: str, image: BuiltImage) -> ImageRef:
        """Upload missing blobs, then the manifest under ``tag``."""
        ...

    def list_tags(self, repository: str) -> Iterator[str]:
        """Every tag of ``repository``, fetched page by page. Raises ``NotFound``."""
        ...

    def resolve(self, repository: str, tag: str) -> str:
        """The manifest digest ``tag`` points at. Raises ``NotFound``."""
        ...

    def get_config(self, repository: str, reference: str) -> ImageConfig:
        """The image config of a tag or digest. Raises ``NotFound``."""
        ...

    def pull(self, repository: str, digest: str, dest_dir: Path) -> PulledImage:
        """Manifest, config and layers as verified files under ``dest_dir``."""
        ...

    def reference(self, repository: str, digest: str) -> str:
        """``host/repository@sha256:…``, what a container runtime pulls."""
        ...


@runtime_checkable
class TagDetails(Protocol):
    """Registries that know each tag's digest and creation time without extra requests."""

    def tag_details(self, repository: str) -> Iterator[TagInfo]: ...


def validate_repository(repository: str) -> str:
    if len(repository) > 255 or not REPOSITORY_RE.match(repository):
        raise PermanentError(
            f"invalid repository name {repository!r}: use lowercase letters, digits and . _ - /",
            system="container registry",
        )
    return repository


def validate_tag(tag: str) -> str:
    if not TAG_RE.match(tag):
        raise PermanentError(
            f"invalid tag {tag!r}: up to 128 letters, digits, '.', '_' or '-'", system="container registry"
        )
    return tag


def is_digest(reference: str) -> bool:
    return bool(DIGEST_RE.match(reference))


def parse_time(value: str | None) -> datetime | None:
    """RFC 3339 times as registries write them (``Z``, up to 9 fractional digits); UTC if no zone."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())  # keeps microseconds of longer fractions
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_document(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise PermanentError(f"{what} is not valid JSON: {exc}", system="container registry") from exc
    if not isinstance(doc, dict):
        raise PermanentError(f"{what} is not a JSON object", system="container registry")
    return doc


def verify_document(data: bytes, digest: str, what: str) -> None:
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise IntegrityMismatch(
            f"{what} should have digest {digest} but has {actual}", system="container registry"
        )


def parse_image_config(data: bytes) -> ImageConfig:
    """Read the fields we use from an OCI / Docker image config document."""
    doc = parse_document(data, "image config")
    cfg = doc.get("config") or {}
    env = dict(item.split("=", 1) if "=" in item else (item, "") for item in cfg.get("Env") or [])
    ports = sorted(
        int(p.split("/", 1)[0]) for p in (cfg.get("ExposedPorts") or {}) if p.split("/")[0].isdigit()
    )
    return ImageConfig(
        labels=dict(cfg.get("Labels") or {}),
        entrypoint=list(cfg.get("Entrypoint") or []),
        cmd=list(cfg.get("Cmd") or []),
        workdir=cfg.get("WorkingDir") or "",
        env=env,
        exposed_ports=ports,
        created=parse_time(doc.get("created")),
        architecture=doc.get("architecture") or "",
        os=doc.get("os") or "",
    )


def manifest_blobs(manifest: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(config descriptor, layer descriptors) of an image manifest; refuse indexes and junk."""
    config, layers = manifest.get("config"), manifest.get("layers")
    if not isinstance(config, dict) or not isinstance(layers, list):
        kind = manifest.get("mediaType", "unknown media type")
        raise PermanentError(f"not a single-platform image manifest ({kind})", system="container registry")
    for desc in [config, *layers]:
        if not is_digest(str(desc.get("digest", ""))) or not isinstance(desc.get("size"), int):
            raise PermanentError(f"manifest has an invalid descriptor {desc!r}", system="container registry")
    return config, layers


def blob_path(dest_dir: Path, digest: str) -> Path:
    return dest_dir / "blobs" / "sha256" / digest.split(":", 1)[1]
