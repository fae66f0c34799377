"""Model store on Azure Blob Storage (block blobs in one container, under an optional prefix).

Uploads stage blocks and commit the block list only once the whole stream has been read and its
size and sha256 checked, so a failed or mismatched upload never leaves a visible blob (staged but
uncommitted blocks are discarded by the service). The sha256 travels in the blob's metadata so
``stat`` and ``list`` know it without reading content.

API reference: https://learn.microsoft.com/python/api/azure-storage-blob/azure.storage.blob
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO

from azure.core import MatchConditions
from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    IncompleteReadError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import (
    BlobBlock,
    BlobClient,
    BlobProperties,
    BlobServiceClient,
    ContainerClient,
    ContentSettings,
    LinearRetry,
)

from integrations.errors import (
    Conflict,
    IntegrationError,
    IntegrityMismatch,
    NotFound,
    PermanentError,
    TemporaryError,
    Unauthorized,
)
from integrations.modelstore.base import CHUNK_SIZE, StoredObject, validate_key

SYSTEM = "Azure blob model store"
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
        options: dict[str, Any] = {
            "connection_timeout": connection_timeout,
            "read_timeout": read_timeout,
            # The SDK default backs off 15 s and more between tries: an unreachable store must
            # answer within seconds so callers can report it and retry on their own schedule.
            "retry_policy": LinearRetry(backoff=1, random_jitter_range=0.5, retry_total=retry_total),
            "max_single_get_size": chunk_size,
            "max_chunk_get_size": chunk_size,
        }
        self._service = _service_client(connection_string, account_url, credential, options)
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

    def open(self, key: str) -> Iterator[bytes]:
        """Yield the blob's content in ranged GETs of ``chunk_size`` bytes.

        https://learn.microsoft.com/python/api/azure-storage-blob/azure.storage.blob.storagestreamdownloader
        """
        blob = self._blob(key)
        with self._errors(f"reading {key!r}"):
            yield from blob.download_blob(max_concurrency=1).chunks()

    def stat(self, key: str) -> StoredObject:
        """https://learn.microsoft.com/rest/api/storageservices/get-blob-properties"""
        blob = self._blob(key)
        with self._errors(f"describing {key!r}"):
            return self._describe(blob.get_blob_properties())

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

    def uri(self, key: str) -> str:
        return self._blob(key).url

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
    ) -> tuple[list[BlobBlock], bytes]:
        """Upload ``data`` as uncommitted blocks; return them and the content's MD5 once verified."""
        # A fresh id per upload keeps concurrent uploads of one key from mixing their blocks.
        upload_id = uuid.uuid4().hex
        digest, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        blocks: list[BlobBlock] = []
        written = 0
        for chunk in _read_chunks(data, self.chunk_size):
            written += len(chunk)
            if written > size:
                raise _mismatch(key, size=size, sha256=sha256, got=f"more than {size} bytes")
            digest.update(chunk)
            md5.update(chunk)
            block_id = base64.b64encode(f"{upload_id}-{len(blocks):06d}".encode()).decode()
            blob.stage_block(block_id, chunk, length=len(chunk))
            blocks.append(BlobBlock(block_id=block_id))
        if written != size or digest.hexdigest() != sha256:
            raise _mismatch(key, size=size, sha256=sha256, got=f"{written} bytes sha256 {digest.hexdigest()}")
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
            raise _translate(exc, action, self.container_name) from exc


def _service_client(
    connection_string: str,
    account_url: str,
    credential: TokenCredential | None,
    options: dict[str, Any],
) -> BlobServiceClient:
    try:
        if connection_string:
            return BlobServiceClient.from_connection_string(connection_string, **options)
        if account_url:
            if credential is None:
                from azure.identity import DefaultAzureCredential

                credential = DefaultAzureCredential()
            return BlobServiceClient(account_url, credential=credential, **options)
    except ValueError as exc:
        raise PermanentError(f"invalid Azure storage settings: {exc}", system=SYSTEM) from exc
    raise PermanentError("the Azure model store needs a connection string or an account URL", system=SYSTEM)


def _read_chunks(data: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    """Yield full ``chunk_size`` pieces (the last may be shorter) even from short-reading streams."""
    buffer = bytearray()
    while piece := data.read(chunk_size - len(buffer)):
        buffer += piece
        if len(buffer) >= chunk_size:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


def _mismatch(key: str, *, size: int, sha256: str, got: str) -> IntegrityMismatch:
    return IntegrityMismatch(
        f"content of {key} does not match: expected {size} bytes sha256 {sha256}, got {got}; "
        "nothing was stored",
        system=SYSTEM,
    )


def _translate(exc: AzureError, action: str, container: str) -> IntegrationError:
    """Map an azure-core exception to ours, with a message saying what to do about it.

    https://learn.microsoft.com/python/api/azure-core/azure.core.exceptions
    """
    # Storage errors carry request id and time on later lines; the first line says what failed.
    detail = (exc.message or type(exc).__name__).splitlines()[0]
    if isinstance(exc, ResourceNotFoundError):
        if getattr(exc, "error_code", None) == "ContainerNotFound":
            return NotFound(
                f"container {container!r} does not exist: create it or fix the setting", system=SYSTEM
            )
        return NotFound(f"{action}: no such object in container {container!r}", system=SYSTEM)
    if isinstance(exc, ClientAuthenticationError):
        return Unauthorized(
            f"{action}: access denied ({detail}); check the connection string or that the identity "
            f"has the Storage Blob Data Contributor role on {container!r}",
            system=SYSTEM,
        )
    if isinstance(exc, ServiceRequestError | ServiceResponseError | IncompleteReadError):
        return TemporaryError(f"{action}: storage account unreachable ({detail}); retry later", system=SYSTEM)
    if isinstance(exc, HttpResponseError):
        return _translate_status(exc, action, detail)
    return TemporaryError(f"{action}: {detail}", system=SYSTEM)


def _translate_status(exc: HttpResponseError, action: str, detail: str) -> IntegrationError:
    status = exc.status_code or 0
    message = f"{action}: HTTP {status} {detail}"
    if status in (401, 403):
        return Unauthorized(message, system=SYSTEM)
    if status in (409, 412):
        return Conflict(message, system=SYSTEM)
    if status in (408, 429) or status >= 500:
        headers = exc.response.headers if exc.response is not None else {}
        retry_after = headers.get("Retry-After")
        return TemporaryError(
            f"{message}; retry later",
            system=SYSTEM,
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )
    return PermanentError(message, system=SYSTEM)
