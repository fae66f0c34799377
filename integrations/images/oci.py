"""Build an OCI image from local parts, and unpack one, without a container engine.

Follows the OCI image spec v1.1: image manifest
(https://github.com/opencontainers/image-spec/blob/main/manifest.md), image config
(https://github.com/opencontainers/image-spec/blob/main/config.md) and layer changesets
(https://github.com/opencontainers/image-spec/blob/main/layer.md).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integrations.atomic import write_atomic
from integrations.errors import PermanentError
from integrations.images.labels import MANIFEST_ANNOTATIONS
from integrations.images.layers import LAYER_MEDIA_TYPE, write_layer
from integrations.images.unpack import unpack_image

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"

__all__ = [
    "CONFIG_MEDIA_TYPE",
    "LAYER_MEDIA_TYPE",
    "MANIFEST_MEDIA_TYPE",
    "BlobRef",
    "BuiltImage",
    "ImageConfig",
    "LayerSource",
    "build_image",
    "canonical_json",
    "format_time",
    "unpack_image",
]


@dataclass(frozen=True)
class LayerSource:
    """A local directory or file placed at ``target`` (absolute, e.g. "/app") in the image."""

    path: Path
    target: str


@dataclass(frozen=True)
class ImageConfig:
    """The fields of an OCI image config we write when building and read back from registries."""

    labels: dict[str, str]
    entrypoint: list[str]
    cmd: list[str]
    workdir: str
    env: dict[str, str]
    exposed_ports: list[int]
    created: datetime | None  # required to build; a pulled config may lack it
    architecture: str = ""
    os: str = ""


@dataclass(frozen=True)
class BlobRef:
    digest: str
    size: int
    media_type: str
    path: Path

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class BuiltImage:
    manifest_digest: str
    manifest_bytes: bytes
    config: BlobRef
    layers: list[BlobRef]

    @property
    def blobs(self) -> list[BlobRef]:
        """Everything a registry needs before the manifest: config and layers."""
        return [self.config, *self.layers]


def canonical_json(doc: dict[str, Any]) -> bytes:
    """Stable bytes for a JSON document, so equal content always has the same digest."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC, as the image spec's ``created`` fields expect."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _store_blob(path: Path, digest: str, blobs_dir: Path) -> Path:
    """Move a finished blob to its content-addressed name (``blobs/sha256/<hex>``)."""
    final = blobs_dir / digest.split(":", 1)[1]
    os.replace(path, final)
    return final


def write_small_blob(data: bytes, media_type: str, blobs_dir: Path) -> BlobRef:
    """Write ``data`` as ``blobs_dir/<sha256 hex>`` unless it is there: same name, same bytes."""
    hexdigest = hashlib.sha256(data).hexdigest()
    path = blobs_dir / hexdigest
    if not path.exists():
        write_atomic(path, data, overwrite=False)
    return BlobRef(f"sha256:{hexdigest}", len(data), media_type, path)


def image_config(spec: ImageConfig, diff_ids: list[str], layers: list[LayerSource]) -> dict[str, Any]:
    if spec.created is None:
        raise PermanentError("an image needs a creation time to be built", system="image")
    created = format_time(spec.created)
    return {
        "created": created,
        "architecture": spec.architecture or "amd64",
        "os": spec.os or "linux",
        "config": {
            "Labels": dict(spec.labels),
            "Entrypoint": list(spec.entrypoint),
            "Cmd": list(spec.cmd),
            "WorkingDir": spec.workdir,
            "Env": [f"{key}={value}" for key, value in spec.env.items()],
            "ExposedPorts": {f"{port}/tcp": {} for port in sorted(spec.exposed_ports)},
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": created, "created_by": f"COPY {layer.path.name} {layer.target}"} for layer in layers
        ],
    }


def image_manifest(config: BlobRef, layers: list[BlobRef], labels: dict[str, str]) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    annotations = {key: labels[key] for key in MANIFEST_ANNOTATIONS if key in labels}
    if annotations:
        manifest["annotations"] = annotations
    return manifest


def build_image(layers: list[LayerSource], spec: ImageConfig, out_dir: Path) -> BuiltImage:
    """Write layers, config and manifest as blobs under ``out_dir/blobs/sha256/``.

    Building the same sources with the same spec twice gives the same manifest digest.
    """
    blobs_dir = out_dir / "blobs" / "sha256"
    blobs_dir.mkdir(parents=True, exist_ok=True)
    layer_refs, diff_ids = [], []
    for source in layers:
        written = write_layer(source.path, source.target, blobs_dir)
        path = _store_blob(written.path, written.digest, blobs_dir)
        layer_refs.append(BlobRef(written.digest, written.size, LAYER_MEDIA_TYPE, path))
        diff_ids.append(written.diff_id)
    config_bytes = canonical_json(image_config(spec, diff_ids, layers))
    config = write_small_blob(config_bytes, CONFIG_MEDIA_TYPE, blobs_dir)
    manifest_bytes = canonical_json(image_manifest(config, layer_refs, spec.labels))
    manifest = write_small_blob(manifest_bytes, MANIFEST_MEDIA_TYPE, blobs_dir)
    return BuiltImage(manifest.digest, manifest_bytes, config, layer_refs)
