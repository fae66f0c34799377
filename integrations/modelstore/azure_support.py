"""Helpers of the Azure Blob model store: client set-up, stream chunking and error translation.

API reference: https://learn.microsoft.com/python/api/azure-storage-blob/azure.storage.blob
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    IncompleteReadError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobServiceClient

from integrations.errors import (
    Conflict,
    IntegrationError,
    IntegrityMismatch,
    NotFound,
    PermanentError,
    TemporaryError,
    Unauthorized,
)

SYSTEM = "Azure blob model store"


def service_client(
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


def read_chunks(data: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    """Yield full ``chunk_size`` pieces (the last may be shorter) even from short-reading streams."""
    buffer = bytearray()
    while piece := data.read(chunk_size - len(buffer)):
        buffer += piece
        if len(buffer) >= chunk_size:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


def mismatch(key: str, *, size: int, sha256: str, got: str) -> IntegrityMismatch:
    return IntegrityMismatch(
        f"content of {key} does not match: expected {size} bytes sha256 {sha256}, got {got}; "
        "nothing was stored",
        system=SYSTEM,
    )


def translate(exc: AzureError, action: str, container: str) -> IntegrationError:
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
    if isinstance(exc, ClientAuthenticationError) or getattr(exc, "status_code", None) in (401, 403):
        return _access_denied(action, detail, container)
    if isinstance(exc, ServiceRequestError | ServiceResponseError | IncompleteReadError):
        return TemporaryError(f"{action}: storage account unreachable ({detail}); retry later", system=SYSTEM)
    if isinstance(exc, HttpResponseError):
        return translate_status(exc, action, detail)
    return TemporaryError(f"{action}: {detail}", system=SYSTEM)


def translate_status(exc: HttpResponseError, action: str, detail: str) -> IntegrationError:
    status = exc.status_code or 0
    message = f"{action}: HTTP {status} {detail}"
    if status in (409, 412):
        return Conflict(message, system=SYSTEM)
    if status in (408, 429) or status >= 500:
        # azure-core types the response as a protocol without headers, which every transport's has.
        headers = exc.response.headers if exc.response is not None else {}  # type: ignore[attr-defined]
        retry_after = headers.get("Retry-After")
        return TemporaryError(
            f"{message}; retry later",
            system=SYSTEM,
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )
    return PermanentError(message, system=SYSTEM)


def _access_denied(action: str, detail: str, container: str) -> Unauthorized:
    # A wrong account key is a 403 from the service, a missing token an SDK error: one message.
    return Unauthorized(
        f"{action}: access denied ({detail}); check the connection string or that the identity "
        f"has the Storage Blob Data Contributor role on {container!r}",
        system=SYSTEM,
    )
