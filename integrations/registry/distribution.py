"""Any registry speaking the OCI distribution API (CNCF distribution, Harbor, GHCR, ACR's /v2).

Follows https://github.com/opencontainers/distribution-spec/blob/main/spec.md (v1.1): blob
HEAD / upload (POST, PATCH, PUT), manifest PUT / GET / HEAD and ``tags/list`` paging.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import requests

from integrations.errors import IntegrityMismatch, PermanentError
from integrations.images.digests import validate_digest, write_verified
from integrations.images.oci import BlobRef, BuiltImage
from integrations.registry.base import (
    MANIFEST_ACCEPT,
    MAX_DOCUMENT_SIZE,
    ImageConfig,
    ImageRef,
    PulledImage,
    blob_path,
    is_digest,
    manifest_blobs,
    parse_document,
    parse_image_config,
    validate_repository,
    validate_tag,
    verify_document,
)
from integrations.registry.transport import RefreshTokenSource, RegistryTransport

DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024  # blobs up to this go in one PUT; bigger ones in PATCH chunks
DEFAULT_PAGE_SIZE = 1000
READ_CHUNK = 1024 * 1024


class FileSlice:
    """``length`` bytes of a file from ``offset``, as a body ``requests`` streams with a Content-Length."""

    def __init__(self, path: Path, offset: int, length: int) -> None:
        self._file: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed when fully read
        self._file.seek(offset)
        self._left = length
        self.len = length

    def __len__(self) -> int:
        return self.len

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        data = self._file.read(size) if size else b""
        self._left -= len(data)
        if not data:
            self._file.close()
        return data


class DistributionRegistry:
    kind = "distribution"

    def __init__(
        self,
        url: str,
        *,
        username: str = "",
        password: str = "",
        refresh_token: RefreshTokenSource | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        page_size: int = DEFAULT_PAGE_SIZE,
        timeout: tuple[float, float] = (10.0, 300.0),
        system: str = "container registry",
    ) -> None:
        self.url = url if "://" in url else f"https://{url}"
        self.host = urlsplit(self.url).netloc
        self.chunk_size, self.page_size = chunk_size, page_size
        self.system = system
        self.http = RegistryTransport(
            self.url, username=username, password=password, refresh_token=refresh_token,
            timeout=timeout, system=system,
        )  # fmt: skip

    def _repo(self, repository: str) -> str:
        return validate_repository(repository)

    @staticmethod
    def _scope(repository: str, actions: str = "pull") -> str:
        return f"repository:{repository}:{actions}"

    def check(self) -> None:
        """GET /v2/ (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#determining-support)."""
        self.http.request("GET", "/v2/", scope="", what=f"registry check of {self.host}").close()

    # -- blobs -----------------------------------------------------------------
    def has_blob(self, repository: str, digest: str) -> bool:
        """HEAD /v2/<name>/blobs/<digest> (spec: "Checking if content exists in the registry")."""
        response = self.http.request(
            "HEAD", f"/v2/{repository}/blobs/{digest}", scope=self._scope(repository, "pull,push"),
            what=f"blob check {digest}", ok_404=True, allow_redirects=False,
        )  # fmt: skip
        response.close()
        return response.status_code in (200, 307)

    def upload_blob(self, repository: str, blob: BlobRef) -> None:
        """POST an upload session, then PUT the blob (monolithic) or PATCH chunks + closing PUT.

        Spec: "Pushing blobs" (POST then PUT, and "Pushing a blob in chunks").
        """
        scope = self._scope(repository, "pull,push")
        response = self.http.request(
            "POST", f"/v2/{repository}/blobs/uploads/", scope=scope, what=f"start upload of {blob.digest}"
        )
        location = self._location(response)
        offset = 0
        if blob.size > self.chunk_size:
            location, offset = self._upload_chunks(location, blob, scope)
        response = self.http.request(
            "PUT", location, scope=scope, what=f"upload of {blob.digest}", params={"digest": blob.digest},
            headers={"Content-Type": "application/octet-stream"},
            body=lambda: FileSlice(blob.path, offset, blob.size - offset),
        )  # fmt: skip
        response.close()

    def _location(self, response: requests.Response) -> str:
        """Where an upload continues; the spec requires it on every upload response."""
        response.close()
        location = response.headers.get("Location")
        if not location:
            raise PermanentError("registry did not say where to continue the upload", system=self.system)
        return location

    def _upload_chunks(self, location: str, blob: BlobRef, scope: str) -> tuple[str, int]:
        """PATCH every full chunk but the last; the closing PUT carries the remainder."""
        offset = 0
        while blob.size - offset > self.chunk_size:
            end = offset + self.chunk_size
            response = self.http.request(
                "PATCH", location, scope=scope, what=f"upload chunk of {blob.digest}",
                headers={"Content-Type": "application/octet-stream", "Content-Range": f"{offset}-{end - 1}"},
                body=partial(FileSlice, blob.path, offset, self.chunk_size),
            )  # fmt: skip
            location = self._location(response)
            offset = end
        return location, offset

    def push_image(self, repository: str, tag: str, image: BuiltImage) -> ImageRef:
        """Blobs first (skipping those present), manifest last: a tag never points at a partial image."""
        self._repo(repository)
        validate_tag(tag)
        for blob in image.blobs:
            if not self.has_blob(repository, blob.digest):
                self.upload_blob(repository, blob)
        digest = self._put_manifest(repository, tag, image)
        return ImageRef(repository, tag, digest)

    def _put_manifest(self, repository: str, tag: str, image: BuiltImage) -> str:
        """PUT /v2/<name>/manifests/<tag> (spec: "Pushing Manifests")."""
        media_type = parse_document(image.manifest_bytes, "manifest").get("mediaType", "")
        response = self.http.request(
            "PUT", f"/v2/{repository}/manifests/{tag}", scope=self._scope(repository, "pull,push"),
            what=f"manifest upload for {repository}:{tag}", headers={"Content-Type": media_type},
            body=lambda: image.manifest_bytes,
        )  # fmt: skip
        response.close()
        returned = response.headers.get("Docker-Content-Digest", image.manifest_digest)
        if returned != image.manifest_digest:
            raise IntegrityMismatch(
                f"registry stored manifest {returned}, expected {image.manifest_digest}", system=self.system
            )
        return image.manifest_digest

    # -- reading ---------------------------------------------------------------
    def list_tags(self, repository: str) -> Iterator[str]:
        """GET /v2/<name>/tags/list?n=&last= following Link headers (spec: "Listing Tags").

        Registries that ignore ``n`` answer everything at once, without a Link: also fine.
        """
        path: str | None = f"/v2/{self._repo(repository)}/tags/list"
        params: dict[str, Any] | None = {"n": self.page_size}
        seen_last = None
        while path:
            response = self.http.request(
                "GET", path, scope=self._scope(repository), what=f"tag list of {repository}", params=params
            )
            tags = parse_document(response.content, "tag list").get("tags") or []
            link = response.links.get("next", {}).get("url")  # the RFC 8288 Link header, parsed
            if not tags or tags[-1] == seen_last:
                return  # a registry repeating a page would otherwise loop forever
            yield from tags
            seen_last, path, params = tags[-1], link, None

    def _get_manifest(self, repository: str, reference: str) -> tuple[str, bytes]:
        """GET /v2/<name>/manifests/<reference> (spec: "Pulling manifests"); digest verified."""
        self._repo(repository)
        if not is_digest(reference):
            validate_tag(reference)
        response = self.http.request(
            "GET", f"/v2/{repository}/manifests/{reference}", scope=self._scope(repository),
            what=f"manifest {repository}:{reference}", headers={"Accept": MANIFEST_ACCEPT}, stream=True,
        )  # fmt: skip
        with response:
            data = response.raw.read(MAX_DOCUMENT_SIZE + 1, decode_content=True)
        if len(data) > MAX_DOCUMENT_SIZE:
            raise PermanentError(f"manifest {repository}:{reference} is too large", system=self.system)
        digest = reference if is_digest(reference) else response.headers.get("Docker-Content-Digest", "")
        if not is_digest(digest):
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
        verify_document(data, digest, f"manifest {repository}:{reference}")
        return digest, data

    def resolve(self, repository: str, tag: str) -> str:
        """HEAD /v2/<name>/manifests/<tag> → Docker-Content-Digest (GET when the header is missing)."""
        self._repo(repository)
        response = self.http.request(
            "HEAD", f"/v2/{repository}/manifests/{validate_tag(tag)}", scope=self._scope(repository),
            what=f"tag {repository}:{tag}", headers={"Accept": MANIFEST_ACCEPT},
        )  # fmt: skip
        response.close()
        digest = response.headers.get("Docker-Content-Digest", "")
        return digest if is_digest(digest) else self._get_manifest(repository, tag)[0]

    def _stream_blob(self, repository: str, desc: dict[str, Any], dest: Path) -> Path:
        """GET /v2/<name>/blobs/<digest> (spec: "Pulling blobs"), following storage redirects."""
        response = self.http.request(
            "GET", f"/v2/{repository}/blobs/{desc['digest']}", scope=self._scope(repository),
            what=f"blob {desc['digest']}", stream=True,
        )  # fmt: skip
        with response:
            write_verified(
                response.iter_content(READ_CHUNK), dest, desc["digest"], size=desc["size"], what="blob"
            )
        return dest

    def _read_small_blob(self, repository: str, desc: dict[str, Any]) -> bytes:
        if desc["size"] > MAX_DOCUMENT_SIZE:
            raise PermanentError(f"image config {desc['digest']} is too large", system=self.system)
        response = self.http.request(
            "GET", f"/v2/{repository}/blobs/{desc['digest']}", scope=self._scope(repository),
            what=f"image config {desc['digest']}",
        )  # fmt: skip
        verify_document(response.content, desc["digest"], "image config")
        return response.content

    def get_config(self, repository: str, reference: str) -> ImageConfig:
        _, data = self._get_manifest(repository, reference)
        config, _ = manifest_blobs(parse_document(data, "manifest"))
        return parse_image_config(self._read_small_blob(repository, config))

    def pull(self, repository: str, digest: str, dest_dir: Path) -> PulledImage:
        digest, data = self._get_manifest(repository, validate_digest(digest))
        config_desc, layer_descs = manifest_blobs(parse_document(data, "manifest"))
        manifest_path = blob_path(dest_dir, digest)
        write_verified([data], manifest_path, digest, what="manifest")
        config_path = self._stream_blob(repository, config_desc, blob_path(dest_dir, config_desc["digest"]))
        layers = [self._stream_blob(repository, d, blob_path(dest_dir, d["digest"])) for d in layer_descs]
        config = parse_image_config(config_path.read_bytes())
        return PulledImage(digest, config, layers, manifest_path, config_path)

    def reference(self, repository: str, digest: str) -> str:
        return f"{self.host}/{self._repo(repository)}@{validate_digest(digest)}"
