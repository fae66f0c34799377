"""Model store on the local filesystem: the embedded default (under ``var/models``)."""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from integrations.errors import IntegrityMismatch, NotFound, PermanentError, TemporaryError
from integrations.modelstore.base import CHUNK_SIZE, StoredObject, validate_key

SYSTEM = "filesystem model store"


class FilesystemStore:
    kind = "filesystem"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if self.root not in path.parents:
            raise PermanentError(f"invalid object key {key!r}", system=SYSTEM)
        return path

    def _describe(self, key: str, path: Path) -> StoredObject:
        st = path.stat()
        return StoredObject(
            key=key,
            size=st.st_size,
            etag=f"{st.st_mtime_ns:x}-{st.st_size:x}",
            last_modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        )

    def put(self, key: str, data: BinaryIO, *, size: int, sha256: str) -> StoredObject:
        path = self._path(key)
        if path.exists():
            return self._describe(key, path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        except OSError as exc:
            raise TemporaryError(f"cannot write under {self.root}: {exc}", system=SYSTEM) from exc
        try:
            digest = hashlib.sha256()
            written = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := data.read(CHUNK_SIZE):
                    digest.update(chunk)
                    out.write(chunk)
                    written += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            if written != size or digest.hexdigest() != sha256:
                raise IntegrityMismatch(
                    f"content changed while storing {key}: expected {size} bytes sha256 {sha256}, "
                    f"got {written} bytes sha256 {digest.hexdigest()}",
                    system=SYSTEM,
                )
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self._describe(key, path)

    def put_file(self, path: Path, key: str, *, size: int, sha256: str) -> StoredObject:
        """Move ``path`` into the store when it is on the same filesystem, else copy it.

        The caller vouches for ``sha256`` (an upload hashed while it was written), so a
        gigabyte model is neither copied nor hashed a second time.
        """
        target = self._path(key)
        if target.exists():
            return self._describe(key, target)
        if path.stat().st_size != size:
            raise IntegrityMismatch(f"{path} is not {size} bytes", system=SYSTEM)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _fsync(path)  # the database will say this version exists: its bytes must be on disk
            os.replace(path, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise TemporaryError(f"cannot write under {self.root}: {exc}", system=SYSTEM) from exc
            with path.open("rb") as data:
                return self.put(key, data, size=size, sha256=sha256)
        target.chmod(0o644)
        return self._describe(key, target)

    def open(self, key: str) -> Iterator[bytes]:
        path = self._path(key)
        try:
            handle = path.open("rb")
        except FileNotFoundError as exc:
            raise NotFound(f"no object {key!r}", system=SYSTEM) from exc
        with handle:
            while chunk := handle.read(CHUNK_SIZE):
                yield chunk

    def stat(self, key: str) -> StoredObject:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"no object {key!r}", system=SYSTEM)
        return self._describe(key, path)

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        if not self.root.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for name in sorted(filenames):
                if name.startswith(".upload-"):
                    continue
                path = Path(dirpath) / name
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield self._describe(key, path)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TemporaryError(f"{self.root} is not usable: {exc}", system=SYSTEM) from exc
        if not os.access(self.root, os.W_OK):
            raise TemporaryError(f"{self.root} is not writable", system=SYSTEM)

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
