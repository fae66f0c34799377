"""The model store interface: where model files live.

Keys are ``/``-separated relative paths (``churn/3f2a.../model.pkl``). Implementations
never hold a whole object in memory: ``put`` reads from a file object in chunks and
``open`` yields chunks.

What was registered never changes: ``pin`` fixes an object's bytes (by blob version id where
the store keeps versions, otherwise by copying them to a content-addressed key), and reads of
a registered version name that version id or send its etag, so other bytes are refused.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from integrations.hashing import HashingWriter

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


@dataclass(frozen=True)
class PinnedObject:
    """An object's bytes fixed for good: ``stored`` (key, version id, etag) is what to read."""

    source: StoredObject  # the object as published, when it was pinned
    stored: StoredObject  # the pinned bytes: a content-addressed copy, or the source's version
    sha256: str


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

    def open(self, key: str, *, version_id: str = "", etag: str = "") -> Iterator[bytes]:
        """Yield the object's content in chunks (of version ``version_id`` when given).

        With ``etag``, an object whose etag differs is refused with ``IntegrityMismatch``
        instead of being read. Raises ``NotFound``.
        """
        ...

    def stat(self, key: str, *, version_id: str = "") -> StoredObject:
        """Describe one object (one version of it). Raises ``NotFound``."""
        ...

    def pin(self, key: str, *, etag: str = "", target_for: Callable[[str], str]) -> PinnedObject:
        """Hash the object at ``key`` and fix those bytes so they can be read back unchanged.

        Where the store keeps versions the pin is the current version id; otherwise the bytes
        are copied to ``target_for(sha256)`` (a content-addressed key). With ``etag``, an object
        changed since it was listed is refused with ``IntegrityMismatch``.
        """
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

    def uri(self, key: str, *, version_id: str = "") -> str:
        """A location another system (a build) can fetch the object (that version of it) from."""
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


def verified(chunks: Iterator[bytes], *, sha256: str, size: int, what: str) -> Iterator[bytes]:
    """Pass ``chunks`` on, holding the last one back until the whole content has been checked.

    A reader that gets every byte has got the registered bytes: content of another size or
    digest ends with ``IntegrityMismatch`` before its last chunk is handed out.
    """
    from integrations.errors import IntegrityMismatch

    hashed, held = HashingWriter(), b""
    try:
        for chunk in chunks:
            hashed.write(chunk)
            if hashed.size > size:
                break
            if held:
                yield held
            held = chunk
    finally:
        if isinstance(chunks, Generator):
            chunks.close()  # stop the store's read (and its connection) now, not at garbage collection
    if hashed.size != size or hashed.hexdigest != sha256:
        raise IntegrityMismatch(
            f"{what} does not match what was registered ({size} bytes, sha256 {sha256}); "
            "refusing to hand out other bytes",
            system="model store",
        )
    if held:
        yield held
