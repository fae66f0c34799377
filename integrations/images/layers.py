"""Writing one reproducible gzip tar layer from a local file or directory.

Reproducible means the same input files give byte-identical layers (same digest) on any
machine, so an unchanged model layer is never uploaded twice: entries are sorted, owners,
times and permission bits are normalised, and the gzip header carries no name or time.
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from integrations.errors import PermanentError
from integrations.hashing import HashingWriter

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_MTIME = 0  # fixed so the layer digest depends on content only
WHITEOUT_PREFIX = ".wh."
GZIP_LEVEL = 6


@dataclass(frozen=True)
class WrittenLayer:
    path: Path
    digest: str  # of the compressed blob
    size: int  # compressed
    diff_id: str  # digest of the uncompressed tar


def normalize_target(target: str) -> PurePosixPath:
    """The in-image path as a relative tar name; refuse anything that could escape the root."""
    parts = target.split("/")
    if not target.startswith("/") or any(p in (".", "..") for p in parts) or target.strip("/") == "":
        raise PermanentError(f"layer target {target!r} must be an absolute path below /", system="image")
    _check_name("".join(parts))
    return PurePosixPath(*[p for p in parts if p])


def _check_name(name: str) -> None:
    if any(ord(c) < 32 or ord(c) == 127 for c in name) or "\\" in name:
        raise PermanentError(f"file name {name!r} contains control characters or backslashes", system="image")
    if name.startswith(WHITEOUT_PREFIX):
        raise PermanentError(f"file name {name!r} would be read as a whiteout marker", system="image")


def _tarinfo(name: str, st: os.stat_result, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mtime = LAYER_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    executable = kind == tarfile.DIRTYPE or bool(st.st_mode & stat.S_IXUSR)
    info.mode = 0o755 if executable else 0o644
    return info


def _parent_dirs(target: PurePosixPath) -> Iterator[tarfile.TarInfo]:
    """Directory entries for the target's parents, so extraction gives them sane modes."""
    for parent in reversed(target.parents[:-1]):
        info = tarfile.TarInfo(str(parent))
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, LAYER_MTIME
        yield info


def _walk(root: Path, name: PurePosixPath) -> Iterator[tuple[Path, str, os.stat_result]]:
    """(path, tar name, lstat) for ``root`` and, if a directory, everything below it, sorted."""
    st = root.lstat()
    yield root, str(name), st
    if stat.S_ISDIR(st.st_mode):
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            _check_name(entry.name)
            yield from _walk(Path(entry.path), name / entry.name)


def _link_target(path: Path, source_root: Path) -> str:
    """A symlink is kept only when it is relative and stays inside the copied tree."""
    link = os.readlink(path)
    resolved = os.path.normpath(os.path.join(os.path.dirname(path), link))
    if os.path.isabs(link) or os.path.commonpath([resolved, str(source_root)]) != str(source_root):
        # Absolute or escaping links would point at whatever the host running the image has there.
        raise PermanentError(f"symlink {path} -> {link} points outside {source_root}", system="image")
    return link


def _add_entries(tar: tarfile.TarFile, source: Path, target: PurePosixPath) -> None:
    source_root = source if source.is_dir() and not source.is_symlink() else source.parent
    for info in _parent_dirs(target):
        tar.addfile(info)
    for path, name, st in _walk(source, target):
        if stat.S_ISDIR(st.st_mode):
            tar.addfile(_tarinfo(name, st, tarfile.DIRTYPE))
        elif stat.S_ISLNK(st.st_mode):
            info = _tarinfo(name, st, tarfile.SYMTYPE)
            info.linkname, info.mode = _link_target(path, source_root), 0o777
            tar.addfile(info)
        elif stat.S_ISREG(st.st_mode):
            info = _tarinfo(name, st, tarfile.REGTYPE)
            info.size = st.st_size
            with open(path, "rb") as f:  # tarfile copies in chunks, never the whole file
                tar.addfile(info, f)
        else:
            raise PermanentError(f"{path} is not a regular file, directory or symlink", system="image")


def write_layer(source: Path, target: str, out_dir: Path) -> WrittenLayer:
    """Stream ``source`` into a gzip tar under ``out_dir``, placed at ``target`` in the image."""
    if not source.exists() and not source.is_symlink():
        raise PermanentError(f"layer source {source} does not exist", system="image")
    name = normalize_target(target)
    source = source.absolute()  # symlink checks compare absolute paths
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out_dir, prefix=".layer-")
    try:
        with os.fdopen(fd, "wb") as raw:
            compressed = HashingWriter(raw)
            with gzip.GzipFile(fileobj=compressed, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as gz:
                uncompressed = HashingWriter(gz)
                # typeshed asks every fileobj for read/seek/tell; stream mode "w|" only writes.
                with tarfile.open(fileobj=uncompressed, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                    _add_entries(tar, source, name)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return WrittenLayer(Path(tmp_name), compressed.digest, compressed.size, uncompressed.digest)
