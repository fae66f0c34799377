"""Model store on the local filesystem: the embedded default (under ``var/models``).

Files have no versions, so ``pin`` copies a published file to a content-addressed key while
hashing it (one read), and reads of a registered version check the file's etag (modification
time and size) first.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from integrations.atomic import AtomicFile
from integrations.errors import IntegrityMismatch, NotFound, PermanentError, TemporaryError
from integrations.hashing import HashingWriter, file_sha256
from integrations.modelstore.base import CHUNK_SIZE, PinnedObject, StoredObject, validate_key

SYSTEM = "filesystem model store"
UPLOAD_PREFIX = ".upload-"  # files being written; listings leave them out


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
            etag=_etag(st),
            last_modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        )

    def put(self, key: str, data: BinaryIO, *, size: int, sha256: str) -> StoredObject:
        path = self._path(key)
        if path.exists():
            return self._describe(key, path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic = AtomicFile(path, prefix=UPLOAD_PREFIX)
        except OSError as exc:
            raise TemporaryError(f"cannot write under {self.root}: {exc}", system=SYSTEM) from exc
        with atomic as out:
            written = HashingWriter(out)
            while chunk := data.read(CHUNK_SIZE):
                written.write(chunk)
            if written.size != size or written.hexdigest != sha256:
                raise IntegrityMismatch(
                    f"content changed while storing {key}: expected {size} bytes sha256 {sha256}, "
                    f"got {written.size} bytes sha256 {written.hexdigest}",
                    system=SYSTEM,
                )
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

    def open(self, key: str, *, version_id: str = "", etag: str = "") -> Iterator[bytes]:
        path = self._path(key)
        _no_versions(version_id)
        try:
            handle = path.open("rb")
        except FileNotFoundError as exc:
            raise NotFound(f"no object {key!r}", system=SYSTEM) from exc
        with handle:
            if etag and (now := _etag(os.fstat(handle.fileno()))) != etag:
                raise _changed(key, now, etag)
            while chunk := handle.read(CHUNK_SIZE):
                yield chunk

    def stat(self, key: str, *, version_id: str = "") -> StoredObject:
        path = self._path(key)
        _no_versions(version_id)
        if not path.is_file():
            raise NotFound(f"no object {key!r}", system=SYSTEM)
        return self._describe(key, path)

    def pin(self, key: str, *, etag: str = "", target_for: Callable[[str], str]) -> PinnedObject:
        """Copy the file to ``target_for(sha256)`` through a temporary file, hashing what is copied.

        The copy holds exactly the bytes that were hashed even if the source is rewritten
        meanwhile; an existing target is kept only when its content is the same.
        """
        source = self.stat(key)
        if etag and source.etag != etag:
            raise _changed(key, source.etag, etag)
        fd, tmp = self._temporary(self.root)
        try:
            with os.fdopen(fd, "wb") as out:
                copied = HashingWriter(out)
                for chunk in self.open(key, etag=source.etag):
                    copied.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha256 = copied.hexdigest
            target = target_for(sha256)
            stored = self._keep_existing(target, sha256) or self._move_into_place(Path(tmp), target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return PinnedObject(source=source, stored=stored, sha256=sha256)

    def _keep_existing(self, key: str, sha256: str) -> StoredObject | None:
        path = self._path(key)
        if not path.is_file():
            return None
        if file_sha256(path)[0] != sha256:
            raise IntegrityMismatch(
                f"{key} already exists with other content; it cannot hold sha256 {sha256}", system=SYSTEM
            )
        return self._describe(key, path)

    def _move_into_place(self, tmp: Path, key: str) -> StoredObject:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        except OSError as exc:
            raise TemporaryError(f"cannot write under {self.root}: {exc}", system=SYSTEM) from exc
        target.chmod(0o644)
        return self._describe(key, target)

    def _temporary(self, folder: Path) -> tuple[int, str]:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return tempfile.mkstemp(dir=folder, prefix=UPLOAD_PREFIX)
        except OSError as exc:
            raise TemporaryError(f"cannot write under {self.root}: {exc}", system=SYSTEM) from exc

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        if not self.root.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for name in sorted(filenames):
                if name.startswith(UPLOAD_PREFIX):
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

    def uri(self, key: str, *, version_id: str = "") -> str:
        _no_versions(version_id)
        return self._path(key).as_uri()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _etag(st: os.stat_result) -> str:
    """Changes whenever the file is rewritten: its modification time and size."""
    return f"{st.st_mtime_ns:x}-{st.st_size:x}"


def _no_versions(version_id: str) -> None:
    if version_id:
        raise PermanentError(f"files have no versions (asked for {version_id!r})", system=SYSTEM)


def _changed(key: str, etag: str, expected: str) -> IntegrityMismatch:
    return IntegrityMismatch(f"{key} has changed (etag {etag}, expected {expected})", system=SYSTEM)
