"""The image the local builder makes: config from a build request, optionally on a base image.

Follows the image contract in examples/churn-predictor/README.md and the OCI image spec's
config (https://github.com/opencontainers/image-spec/blob/main/config.md). A base image's
layers go first and its config is inherited field by field, ours winning, as a Dockerfile's
``FROM`` would.
"""

from __future__ import annotations

import json
import shlex
from datetime import datetime
from pathlib import Path
from typing import Any

from integrations.errors import PermanentError
from integrations.images import labels
from integrations.images.layers import LAYER_MEDIA_TYPE
from integrations.images.oci import (
    CONFIG_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    BlobRef,
    BuiltImage,
    ImageConfig,
    canonical_json,
    format_time,
    image_manifest,
    write_small_blob,
)
from integrations.registry.base import (
    PulledImage,
    Registry,
    is_digest,
    manifest_blobs,
    parse_document,
    validate_repository,
    validate_tag,
)

SYSTEM = "local build"
# Docker's gzip layer is byte-for-byte the OCI one; the OCI manifest we write names it so.
DOCKER_GZIP_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def entrypoint(command: str) -> list[str]:
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise PermanentError(f"cannot parse the image command {command!r}: {exc}", system=SYSTEM) from exc
    if not words:
        raise PermanentError("the image command is empty", system=SYSTEM)
    return words


def image_labels(
    *, commit: str, source: str, created: datetime, model_name: str, model_version: str, model_sha256: str
) -> dict[str, str]:
    return {
        labels.OCI_REVISION: commit,
        labels.OCI_SOURCE: source,
        labels.OCI_CREATED: format_time(created),
        labels.MODEL_NAME: model_name,
        labels.MODEL_VERSION: model_version,
        labels.MODEL_SHA256: model_sha256,
    }


def image_env(
    *, model_path: str, model_name: str, model_version: str, model_sha256: str, port: int, commit: str
) -> dict[str, str]:
    return {
        "MODEL_PATH": model_path,
        "MODEL_NAME": model_name,
        "MODEL_VERSION": model_version,
        "MODEL_SHA256": model_sha256,
        "PORT": str(port),
        "APP_REVISION": commit,
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",  # the root filesystem may be read-only
    }


def make_spec(
    *, image_labels: dict[str, str], command: str, env: dict[str, str], port: int, created: datetime
) -> ImageConfig:
    return ImageConfig(
        labels=image_labels,
        entrypoint=entrypoint(command),
        cmd=[],
        workdir="/app",
        env=env,
        exposed_ports=[port],
        created=created,
    )


def parse_base_image(reference: str) -> tuple[str, str]:
    """("repository", "tag or digest") of "repository:tag" or "repository@sha256:…"."""
    if "@" in reference:
        repository, digest = reference.split("@", 1)
        if not is_digest(digest):
            raise PermanentError(f"base image {reference!r} has an invalid digest", system=SYSTEM)
        return validate_repository(repository), digest
    repository, _, tag = reference.rpartition(":")
    if not repository:
        raise PermanentError(
            f"base image {reference!r} must name a tag or digest (repository:tag or repository@sha256:…)",
            system=SYSTEM,
        )
    return validate_repository(repository), validate_tag(tag)


def pull_base(registry: Registry, reference: str, dest_dir: Path) -> PulledImage:
    repository, ref = parse_base_image(reference)
    digest = ref if is_digest(ref) else registry.resolve(repository, ref)
    return registry.pull(repository, digest, dest_dir)


def _merged_config(base: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """``own`` on top of ``base``: lists of key=value and maps are merged, other fields replaced."""
    base_cfg, own_cfg = base.get("config") or {}, own["config"]
    env = dict(item.split("=", 1) for item in base_cfg.get("Env") or [] if "=" in item)
    env.update(item.split("=", 1) for item in own_cfg["Env"])
    merged = {
        **base_cfg,
        **own_cfg,
        "Env": [f"{key}={value}" for key, value in env.items()],
        "Labels": {**(base_cfg.get("Labels") or {}), **own_cfg["Labels"]},
        "ExposedPorts": {**(base_cfg.get("ExposedPorts") or {}), **own_cfg["ExposedPorts"]},
    }
    diff_ids = list((base.get("rootfs") or {}).get("diff_ids") or [])
    return {
        **own,
        "architecture": base.get("architecture") or own["architecture"],
        "os": base.get("os") or own["os"],
        "config": merged,
        "rootfs": {"type": "layers", "diff_ids": diff_ids + own["rootfs"]["diff_ids"]},
        "history": list(base.get("history") or []) + own["history"],
    }


def on_base(base: PulledImage, own: BuiltImage, out_dir: Path) -> BuiltImage:
    """``own`` rebuilt with ``base``'s layers first and its config underneath ours."""
    assert base.manifest_path is not None and base.config_path is not None
    _, base_layers = manifest_blobs(parse_document(base.manifest_path.read_bytes(), "base image manifest"))
    base_config = parse_document(base.config_path.read_bytes(), "base image config")
    if len((base_config.get("rootfs") or {}).get("diff_ids") or []) != len(base_layers):
        raise PermanentError("the base image's config and manifest disagree on its layers", system=SYSTEM)
    layers = [
        BlobRef(
            desc["digest"],
            desc["size"],
            LAYER_MEDIA_TYPE if desc.get("mediaType") == DOCKER_GZIP_LAYER else desc.get("mediaType", ""),
            path,
        )
        for desc, path in zip(base_layers, base.layer_paths, strict=True)
    ] + own.layers
    config_doc = _merged_config(base_config, json.loads(own.config.path.read_bytes()))
    blobs_dir = out_dir / "blobs" / "sha256"
    blobs_dir.mkdir(parents=True, exist_ok=True)
    config = write_small_blob(canonical_json(config_doc), CONFIG_MEDIA_TYPE, blobs_dir)
    manifest_bytes = canonical_json(image_manifest(config, layers, config_doc["config"]["Labels"]))
    manifest = write_small_blob(manifest_bytes, MANIFEST_MEDIA_TYPE, blobs_dir)
    return BuiltImage(manifest.digest, manifest_bytes, config, layers)
