"""SHA-256 computed while data streams past: files can be gigabytes, so nothing is read twice."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol


class Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...
    def flush(self) -> object: ...


class HashingWriter:
    """A write-only file object that hashes and counts what it passes on to ``target`` (if any)."""

    def __init__(self, target: Writable | None = None) -> None:
        self.target = target
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        if self.target is not None:
            self.target.write(data)
        return len(data)

    def flush(self) -> None:
        if self.target is not None:
            self.target.flush()

    @property
    def hexdigest(self) -> str:
        return self.hash.hexdigest()

    @property
    def digest(self) -> str:
        """The OCI form, ``sha256:<hex>``."""
        return "sha256:" + self.hash.hexdigest()


def sha256_of(chunks: Iterable[bytes]) -> tuple[str, int]:
    """Hash a stream of chunks; returns (hex digest, size)."""
    writer = HashingWriter()
    for chunk in chunks:
        writer.write(chunk)
    return writer.hexdigest, writer.size


def file_sha256(path: Path) -> tuple[str, int]:
    """(hex digest, size) of a whole file."""
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256")
        return digest.hexdigest(), f.tell()
