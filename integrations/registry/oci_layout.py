"""The embedded default registry: one OCI image layout directory per repository.

Follows the OCI image layout spec
(https://github.com/opencontainers/image-spec/blob/main/image-layout.md): ``oci-layout``,
``index.json`` whose manifest descriptors carry ``org.opencontainers.image.ref.name`` (the tag)
and ``blobs/sha256/<hex>``. Tools such as skopeo and crane read these directories directly.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from integrations.atomic import write_atomic
from integrations.errors import NotFound, PermanentError
from integrations.images.digests import read_chunks, validate_digest, write_verified
from integrations.images.labels import OCI_CREATED
from integrations.images.oci import BlobRef, BuiltImage
from integrations.localdirs import require_writable_dir
from integrations.registry.base import (
    ImageConfig,
    ImageRef,
    PulledImage,
    TagInfo,
    blob_path,
    is_digest,
    manifest_blobs,
    parse_document,
    parse_image_config,
    parse_time,
    validate_repository,
    validate_tag,
    verify_document,
)

REF_NAME = "org.opencontainers.image.ref.name"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
LAYOUT_FILE = {"imageLayoutVersion": "1.0.0"}
RESERVED = {"blobs", "index.json", "oci-layout"}  # names a nested repository must not shadow
SYSTEM = "registry (OCI layout)"


class OciLayoutRegistry:
    kind = "oci-layout"

    def __init__(self, root: Path | str, *, host: str = "localhost") -> None:
        self.root = Path(root)
        self.host = host

    # -- layout helpers ------------------------------------------------------
    def _repo_dir(self, repository: str) -> Path:
        validate_repository(repository)
        if RESERVED & set(repository.split("/")):
            raise PermanentError(f"repository name {repository!r} uses a reserved path name", system=SYSTEM)
        return self.root / repository

    def _blob(self, repository: str, digest: str) -> Path:
        return blob_path(self._repo_dir(repository), validate_digest(digest))

    def _read_index(self, repo_dir: Path) -> dict[str, Any]:
        try:
            return json.loads((repo_dir / "index.json").read_bytes())
        except FileNotFoundError:
            return {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": []}

    def _tagged(self, repository: str) -> list[dict[str, Any]]:
        repo_dir = self._repo_dir(repository)
        if not (repo_dir / "index.json").exists():
            raise NotFound(f"repository {repository!r} does not exist", system=SYSTEM)
        return [
            d for d in self._read_index(repo_dir)["manifests"] if (d.get("annotations") or {}).get(REF_NAME)
        ]

    @contextmanager
    def _index_lock(self, repo_dir: Path) -> Iterator[None]:
        # A separate lock file: index.json itself is replaced by rename, which would drop a lock on it.
        with open(repo_dir / ".index.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read_small_blob(self, repository: str, digest: str, what: str) -> bytes:
        path = self._blob(repository, digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"{what} {digest} not found in {repository!r}", system=SYSTEM) from None
        verify_document(data, digest, what)
        return data

    # -- Registry interface --------------------------------------------------
    def check(self) -> None:
        require_writable_dir(self.root, "registry directory", system=SYSTEM)

    def _put_blob(self, repository: str, blob: BlobRef) -> None:
        dest = self._blob(repository, blob.digest)
        if dest.exists() and dest.stat().st_size == blob.size:
            return  # content-addressed: same name, same bytes
        write_verified(read_chunks(blob.path), dest, blob.digest, size=blob.size, what="blob")

    def _set_tag(self, repo_dir: Path, tag: str, descriptor: dict[str, Any]) -> None:
        with self._index_lock(repo_dir):
            index = self._read_index(repo_dir)
            others = [d for d in index["manifests"] if (d.get("annotations") or {}).get(REF_NAME) != tag]
            index["manifests"] = [*others, descriptor]
            write_atomic(repo_dir / "index.json", json.dumps(index, indent=1).encode())

    def push_image(self, repository: str, tag: str, image: BuiltImage) -> ImageRef:
        repo_dir = self._repo_dir(repository)
        validate_tag(tag)
        (repo_dir / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        if not (repo_dir / "oci-layout").exists():
            write_atomic(repo_dir / "oci-layout", json.dumps(LAYOUT_FILE).encode())
        for blob in image.blobs:
            self._put_blob(repository, blob)
        manifest = self._blob(repository, image.manifest_digest)
        if not manifest.exists():
            write_verified([image.manifest_bytes], manifest, image.manifest_digest, what="manifest")
        created = parse_document(image.config.path.read_bytes(), "image config").get("created", "")
        annotations = {REF_NAME: tag, **({OCI_CREATED: created} if created else {})}
        descriptor = {
            "mediaType": parse_document(image.manifest_bytes, "manifest").get("mediaType"),
            "digest": image.manifest_digest,
            "size": len(image.manifest_bytes),
            "annotations": annotations,
        }
        self._set_tag(repo_dir, tag, descriptor)
        return ImageRef(repository, tag, image.manifest_digest)

    def list_tags(self, repository: str) -> Iterator[str]:
        return iter(sorted(d["annotations"][REF_NAME] for d in self._tagged(repository)))

    def tag_details(self, repository: str) -> Iterator[TagInfo]:
        for d in sorted(self._tagged(repository), key=lambda d: d["annotations"][REF_NAME]):
            created = parse_time(d["annotations"].get(OCI_CREATED))
            yield TagInfo(d["annotations"][REF_NAME], d["digest"], created)

    def resolve(self, repository: str, tag: str) -> str:
        for d in self._tagged(repository):
            if d["annotations"][REF_NAME] == tag:
                return d["digest"]
        raise NotFound(f"tag {tag!r} not found in {repository!r}", system=SYSTEM)

    def _manifest(self, repository: str, reference: str) -> tuple[str, dict[str, Any], bytes]:
        digest = reference if is_digest(reference) else self.resolve(repository, validate_tag(reference))
        data = self._read_small_blob(repository, digest, "manifest")
        return digest, parse_document(data, "manifest"), data

    def get_config(self, repository: str, reference: str) -> ImageConfig:
        _, manifest, _ = self._manifest(repository, reference)
        config, _ = manifest_blobs(manifest)
        return parse_image_config(self._read_small_blob(repository, config["digest"], "image config"))

    def _copy_blob(self, repository: str, desc: dict[str, Any], dest_dir: Path) -> Path:
        source, dest = self._blob(repository, desc["digest"]), blob_path(dest_dir, desc["digest"])
        if not source.exists():
            raise NotFound(f"blob {desc['digest']} missing from {repository!r}", system=SYSTEM)
        write_verified(read_chunks(source), dest, desc["digest"], size=desc["size"], what="blob")
        return dest

    def pull(self, repository: str, digest: str, dest_dir: Path) -> PulledImage:
        digest, manifest, data = self._manifest(repository, validate_digest(digest))
        config_desc, layer_descs = manifest_blobs(manifest)
        manifest_path = blob_path(dest_dir, digest)
        write_verified([data], manifest_path, digest, what="manifest")
        config_path = self._copy_blob(repository, config_desc, dest_dir)
        layers = [self._copy_blob(repository, desc, dest_dir) for desc in layer_descs]
        config = parse_image_config(config_path.read_bytes())
        return PulledImage(digest, config, layers, manifest_path, config_path)

    def reference(self, repository: str, digest: str) -> str:
        return f"{self.host}/{validate_repository(repository)}@{validate_digest(digest)}"
