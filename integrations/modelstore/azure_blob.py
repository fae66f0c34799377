"""Model store on Azure Blob Storage (block blobs in one container, under an optional prefix).

Uploads stage blocks and commit the block list only once the whole stream has been read and its
size and sha256 checked, so a failed or mismatched upload never leaves a visible blob (staged but
uncommitted blocks are discarded by the service). The sha256 travels in the blob's metadata so
``stat`` and ``list`` know it without reading content.

A published blob is pinned by its version id when the account keeps blob versions; otherwise it
is copied, server-side and only if it still has the etag that was hashed, to a content-addressed
key. Reads of a pinned version name the version id or send the etag as If-Match, so a blob
overwritten in place is refused rather than served under the old sha256.

API reference: https://learn.microsoft.com/python/api/azure-storage-blob/azure.storage.blob
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import (
    BlobBlock,
    BlobClient,
    BlobProperties,
    ContainerClient,
    ContentSettings,
    LinearRetry,
)

from integrations.errors import IntegrityMismatch, NotFound, PermanentError, TemporaryError
from integrations.hashing import HashingWriter, sha256_of
from integrations.modelstore.azure_support import SYSTEM, mismatch, read_chunks, service_client, translate
from integrations.modelstore.base import CHUNK_SIZE, PinnedObject, StoredObject, validate_key

SHA256_METADATA = "sha256"


class AzureBlobStore:
    kind = "azure"

    def __init__(
        self,
        container: str,
        prefix: str = "",
        connection_string: str = "",
        account_url: str = "",
        *,
        credential: TokenCredential | None = None,
        chunk_size: int = CHUNK_SIZE,
        results_per_page: int = 1000,
        connection_timeout: float = 5,
        read_timeout: float = 30,
        retry_total: int = 2,
        copy_timeout: float = 900,
    ) -> None:
        """Connect with ``connection_string``, else ``account_url`` + a token credential.

        Without an explicit ``credential`` the ``DefaultAzureCredential`` chain is used (managed
        identity, workload identity, environment, Azure CLI).
        https://learn.microsoft.com/python/api/azure-storage-blob/azure.storage.blob.blobserviceclient
        """
        if not container:
            raise PermanentError("no container configured for the Azure model store", system=SYSTEM)
        self.container_name = container
        # Keys are joined to the prefix with "/" whether or not the setting ends with one.
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.chunk_size = chunk_size
        self.results_per_page = results_per_page
        self.copy_timeout = copy_timeout  # how long a server-side copy may stay pending
        options: dict[str, Any] = {
            "connection_timeout": connection_timeout,
            "read_timeout": read_timeout,
            # The SDK default backs off 15 s and more between tries: an unreachable store must
            # answer within seconds so callers can report it and retry on their own schedule.
            # random_jitter_range is typed int but used as a float range (random.uniform).
            "retry_policy": LinearRetry(backoff=1, random_jitter_range=0.5, retry_total=retry_total),  # type: ignore[arg-type]
            "max_single_get_size": chunk_size,
            "max_chunk_get_size": chunk_size,
        }
        self._service = service_client(connection_string, account_url, credential, options)
        self._container: ContainerClient = self._service.get_container_client(container)

    # -- ModelStore -------------------------------------------------------------------------

    def put_file(self, path: Path, key: str, *, size: int, sha256: str) -> StoredObject:
        with path.open("rb") as data:
            return self.put(key, data, size=size, sha256=sha256)

    def put(self, key: str, data: BinaryIO, *, size: int, sha256: str) -> StoredObject:
        """Stage ``data`` as blocks, verify it, then commit the block list if no blob exists yet.

        https://learn.microsoft.com/rest/api/storageservices/put-block
        https://learn.microsoft.com/rest/api/storageservices/put-block-list
        """
        existing = self._stat_or_none(key)
        if existing is not None:
            return self._same_content(existing, sha256)
        blob = self._blob(key)
        with self._errors(f"storing {key!r}"):
            blocks, md5 = self._stage_blocks(blob, key, data, size=size, sha256=sha256)
            try:
                blob.commit_block_list(
                    blocks,
                    content_settings=ContentSettings(
                        content_type="application/octet-stream", content_md5=bytearray(md5)
                    ),
                    metadata={SHA256_METADATA: sha256},
                    # Never replace a blob another writer committed since our check above.
                    match_condition=MatchConditions.IfMissing,
                )
            except (ResourceExistsError, ResourceModifiedError):
                return self._same_content(self.stat(key), sha256)
        return self.stat(key)

    def open(self, key: str, *, version_id: str = "", etag: str = "") -> Iterator[bytes]:
        """Yield the blob's content (that version of it) in ranged GETs of ``chunk_size`` bytes.

        With ``etag`` every GET carries If-Match: a blob changed since then is refused (412)
        before any of its bytes are read, and the SDK pins later ranges to the first one's etag.
        https://learn.microsoft.com/python/api/azure-storage-blob/azure.storage.blob.storagestreamdownloader
        https://learn.microsoft.com/rest/api/storageservices/specifying-conditional-headers-for-blob-service-operations
        """
        blob = self._blob(key)
        conditions: dict[str, Any] = {"version_id": version_id or None}
        if etag:
            conditions.update(etag=_quoted(etag), match_condition=MatchConditions.IfNotModified)
        with self._errors(f"reading {key!r}"):
            try:
                yield from blob.download_blob(max_concurrency=1, **conditions).chunks()
            except ResourceModifiedError as exc:
                raise IntegrityMismatch(
                    f"{key} has changed or is gone (its etag is no longer {etag})", system=SYSTEM
                ) from exc

    def stat(self, key: str, *, version_id: str = "") -> StoredObject:
        """https://learn.microsoft.com/rest/api/storageservices/get-blob-properties"""
        blob = self._blob(key)
        with self._errors(f"describing {key!r}"):
            return self._describe(blob.get_blob_properties(version_id=version_id or None))

    def pin(self, key: str, *, etag: str = "", target_for: Callable[[str], str]) -> PinnedObject:
        """Hash the blob, then pin those bytes: its version id, or a server-side content-addressed copy.

        https://learn.microsoft.com/azure/storage/blobs/versioning-overview
        """
        source = self.stat(key)
        if etag and source.etag != etag:
            raise IntegrityMismatch(f"{key} has changed (etag {source.etag}, expected {etag})", system=SYSTEM)
        if source.version_id:  # the account keeps versions: that version never changes
            sha256, size = sha256_of(self.open(key, version_id=source.version_id))
            _check_size(key, size, source.size)
            return PinnedObject(source=source, stored=source, sha256=sha256)
        sha256, size = sha256_of(self.open(key, etag=source.etag))
        _check_size(key, size, source.size)
        stored = self._copy(key, target_for(sha256), etag=source.etag, sha256=sha256, size=size)
        return PinnedObject(source=source, stored=stored, sha256=sha256)

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Page through a flat listing (service order is by name), ``results_per_page`` at a time.

        https://learn.microsoft.com/rest/api/storageservices/list-blobs
        """
        with self._errors(f"listing {prefix!r}"):
            pages = self._container.list_blobs(
                name_starts_with=self.prefix + prefix,
                include=["metadata"],
                results_per_page=self.results_per_page,
            )
            for props in pages:
                yield self._describe(props)

    def delete(self, key: str) -> None:
        """https://learn.microsoft.com/rest/api/storageservices/delete-blob"""
        blob = self._blob(key)
        with self._errors(f"deleting {key!r}"), suppress(ResourceNotFoundError):
            blob.delete_blob(delete_snapshots="include")

    def check(self) -> None:
        """One cheap authenticated call that proves the container exists and is reachable.

        https://learn.microsoft.com/rest/api/storageservices/get-container-properties
        """
        with self._errors("checking the container"):
            self._container.get_container_properties()

    def uri(self, key: str, *, version_id: str = "") -> str:
        """The blob's URL; a version is named with the ``versionid`` query parameter (Get Blob).

        https://learn.microsoft.com/rest/api/storageservices/get-blob#uri-parameters
        """
        url = self._blob(key).url
        return f"{url}?versionid={quote(version_id, safe='')}" if version_id else url

    # -- set-up -----------------------------------------------------------------------------

    def ensure_container(self) -> None:
        """Create the container when it does not exist yet.

        https://learn.microsoft.com/rest/api/storageservices/create-container
        """
        with self._errors("creating the container"), suppress(ResourceExistsError):
            self._container.create_container()

    # -- helpers ----------------------------------------------------------------------------

    def _blob(self, key: str) -> BlobClient:
        return self._container.get_blob_client(self.prefix + validate_key(key))

    def _stat_or_none(self, key: str) -> StoredObject | None:
        try:
            return self.stat(key)
        except NotFound:
            return None

    def _copy(self, key: str, target: str, *, etag: str, sha256: str, size: int) -> StoredObject:
        """Copy ``key`` to ``target`` in the service, only while ``key`` still has ``etag``.

        The destination must not exist yet (If-None-Match: *), so a pinned copy is never
        replaced; one that exists already is kept when its recorded sha256 is ours.
        https://learn.microsoft.com/rest/api/storageservices/copy-blob
        """
        if self._stat_or_none(target) is None:
            with self._errors(f"copying {key!r} to {target!r}"):
                try:
                    self._blob(target).start_copy_from_url(
                        self._blob(key).url,
                        metadata={SHA256_METADATA: sha256},
                        source_etag=_quoted(etag),
                        source_match_condition=MatchConditions.IfNotModified,
                        match_condition=MatchConditions.IfMissing,
                    )
                except ResourceModifiedError as exc:
                    raise IntegrityMismatch(
                        f"{key} changed while it was being pinned", system=SYSTEM
                    ) from exc
                except ResourceExistsError:
                    pass  # a concurrent pin of the same content got there first: checked below
        # An existing target may be an earlier attempt's copy still in progress.
        stored = self._same_content(self._wait_for_copy(target), sha256)
        _check_size(target, stored.size, size)
        return stored

    def _wait_for_copy(self, key: str) -> StoredObject:
        """Copies within one account usually finish at once; a pending one is polled to a deadline."""
        blob, deadline, pause = self._blob(key), time.monotonic() + self.copy_timeout, 0.2
        while True:
            with self._errors(f"copying to {key!r}"):
                props = blob.get_blob_properties()
            status = props.copy.status if props.copy else None
            if status in (None, "success"):
                return self._describe(props)
            if status != "pending":  # failed or aborted: remove the broken copy, try again later
                self.delete(key)
                raise TemporaryError(
                    f"copying to {key} {status}: {props.copy.status_description}", system=SYSTEM
                )
            if time.monotonic() > deadline:
                raise TemporaryError(
                    f"copying to {key} still pending after {self.copy_timeout:.0f} s", system=SYSTEM
                )
            time.sleep(pause)
            pause = min(pause * 2, 5.0)

    def _same_content(self, existing: StoredObject, sha256: str) -> StoredObject:
        # Keys name content, so an existing blob is normally ours already; one whose recorded
        # digest differs must not be taken for the object the caller meant to store.
        if existing.sha256 and existing.sha256 != sha256:
            raise IntegrityMismatch(
                f"{existing.key} already exists with sha256 {existing.sha256}, not {sha256}; "
                "store the new content under a new key",
                system=SYSTEM,
            )
        return existing

    def _stage_blocks(
        self, blob: BlobClient, key: str, data: BinaryIO, *, size: int, sha256: str
    ) -> tuple[builtins.list[BlobBlock], bytes]:  # plain "list" in this class names AzureBlobStore.list
        """Upload ``data`` as uncommitted blocks; return them and the content's MD5 once verified."""
        # A fresh id per upload keeps concurrent uploads of one key from mixing their blocks.
        upload_id = uuid.uuid4().hex
        staged, md5 = HashingWriter(), hashlib.md5(usedforsecurity=False)
        blocks: builtins.list[BlobBlock] = []
        for chunk in read_chunks(data, self.chunk_size):
            if staged.size + len(chunk) > size:
                raise mismatch(key, size=size, sha256=sha256, got=f"more than {size} bytes")
            staged.write(chunk)
            md5.update(chunk)
            block_id = base64.b64encode(f"{upload_id}-{len(blocks):06d}".encode()).decode()
            blob.stage_block(block_id, chunk, length=len(chunk))
            blocks.append(BlobBlock(block_id=block_id))
        if staged.size != size or staged.hexdigest != sha256:
            raise mismatch(
                key, size=size, sha256=sha256, got=f"{staged.size} bytes sha256 {staged.hexdigest}"
            )
        return blocks, md5.digest()

    def _describe(self, props: BlobProperties) -> StoredObject:
        md5 = props.content_settings.content_md5
        return StoredObject(
            key=props.name.removeprefix(self.prefix),
            size=props.size,
            # Get Blob Properties quotes the ETag header, List Blobs does not: report it bare.
            etag=(props.etag or "").strip('"'),
            last_modified=props.last_modified,
            content_md5=bytes(md5).hex() if md5 else "",
            version_id=props.version_id or "",
            sha256=(props.metadata or {}).get(SHA256_METADATA, ""),
        )

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except AzureError as exc:
            raise translate(exc, action, self.container_name) from exc


def _quoted(etag: str) -> str:
    """Etags are stored bare (listings omit the quotes); conditional headers want them quoted."""
    return etag if etag.startswith('"') else f'"{etag}"'


def _check_size(key: str, got: int, expected: int) -> None:
    if got != expected:
        raise IntegrityMismatch(f"{key}: read {got} bytes, the blob has {expected}", system=SYSTEM)
