"""The model store interface: where model files live.

Keys are ``/``-separated relative paths (``churn/3f2a.../model.pkl``). Implementations
never hold a whole object in memory: ``put`` reads from a file object in chunks and
``open`` yields chunks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK_SIZE = 4 * 1024 * 1024


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    etag: str = ""
    last_modified: datetime | None = None
    content_md5: str = ""  # hex, as the store reports it ("" when unknown)
    version_id: str = ""  # blob version id where the store keeps versions
    sha256: str = ""  # only when the store knows it without reading (metadata)


class ModelStore(Protocol):
    kind: str

    def put(self, key: str, data: BinaryIO, *, size: int, sha256: str) -> StoredObject:
        """Store ``size`` bytes read from ``data`` under ``key`` atomically.

        Either the whole object is stored or nothing is (no partial objects on failure).
        An existing object under ``key`` is left alone when its content is the same.
        """
        ...

    def put_file(self, path: Path, key: str, *, size: int, sha256: str) -> StoredObject:
        """Store a local file the caller no longer needs (it may be moved rather than copied)."""
        ...

    def open(self, key: str) -> Iterator[bytes]:
        """Yield the object's content in chunks. Raises ``NotFound``."""
        ...

    def stat(self, key: str) -> StoredObject:
        """Describe one object. Raises ``NotFound``."""
        ...

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """All objects whose key starts with ``prefix``, in key order."""
        ...

    def delete(self, key: str) -> None:
        """Remove an object; missing objects are ignored."""
        ...

    def check(self) -> None:
        """Raise an IntegrationError when the store cannot be reached."""
        ...

    def uri(self, key: str) -> str:
        """A location another system (a build) can fetch the object from."""
        ...


def validate_key(key: str) -> str:
    """Refuse keys that could escape the store's root or confuse listings."""
    from integrations.errors import PermanentError

    parts = key.split("/")
    if (
        not key
        or key.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
        or any(ord(c) < 32 or ord(c) == 127 for c in key)
        or "\\" in key
    ):
        raise PermanentError(f"invalid object key {key!r}", system="model store")
    return key


def sha256_of(chunks: Iterator[bytes]) -> tuple[str, int]:
    """Hash a stream of chunks; returns (hex digest, size)."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size
