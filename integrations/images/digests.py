"""Content digests, computed while data streams past (files can be gigabytes)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from integrations.atomic import AtomicFile
from integrations.errors import IntegrityMismatch, PermanentError
from integrations.hashing import HashingWriter

CHUNK_SIZE = 1024 * 1024
DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


def validate_digest(digest: str) -> str:
    if not DIGEST_RE.match(digest or ""):
        raise PermanentError(f"invalid digest {digest!r} (expected sha256:<64 hex>)", system="image")
    return digest


def read_chunks(path: Path, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            yield chunk


def write_verified(
    chunks: Iterable[bytes], dest: Path, digest: str, *, size: int | None = None, what: str = "blob"
) -> int:
    """Stream ``chunks`` into ``dest`` atomically, checking the digest (and size) on the way.

    The data lands in a temporary file next to ``dest`` and is renamed only once it matched,
    so a reader never sees a partial or corrupt file under a content-addressed name.
    """
    validate_digest(digest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with AtomicFile(dest) as out:
        writer = HashingWriter(out)
        for chunk in chunks:
            writer.write(chunk)
            if size is not None and writer.size > size:
                break  # a wrong size is enough to fail; no need to read the rest
        if writer.digest != digest or (size is not None and writer.size != size):
            raise IntegrityMismatch(
                f"{what} {digest} arrived with digest {writer.digest} and size {writer.size}"
                + (f" (expected {size} bytes)" if size is not None else "")
                + "; the source is corrupt or changed while being copied",
                system="image",
            )
    return writer.size
