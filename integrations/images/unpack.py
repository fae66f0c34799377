"""Extracting image layers into a root directory, refusing anything that could escape it.

Layers are applied in order as the image spec's changeset rules describe
(https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts): a later entry
replaces an earlier one, ``.wh.<name>`` deletes ``<name>``, ``.wh..wh..opq`` empties its
directory.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path, PurePosixPath

from integrations.errors import PermanentError

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"


def _safe_name(name: str, layer: Path) -> PurePosixPath:
    path = PurePosixPath(name)
    if name.startswith("/") or ".." in path.parts:
        raise PermanentError(f"layer {layer.name} contains the unsafe path {name!r}", system="image")
    return PurePosixPath(*[p for p in path.parts if p != "."])


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _apply_whiteout(name: PurePosixPath, dest: Path) -> None:
    parent = dest.joinpath(*name.parent.parts)
    if not parent.resolve().is_relative_to(dest.resolve()):
        return  # whiteouts below a link pointing elsewhere delete nothing of ours
    if name.name == OPAQUE_WHITEOUT:
        for child in parent.iterdir() if parent.is_dir() else ():
            _remove(child)
    else:
        _remove(parent / name.name[len(WHITEOUT_PREFIX) :])


def _extract_layer(layer: Path, dest: Path) -> None:
    # "r|*" streams (gzip or plain tar) without seeking or reading the layer into memory.
    with tarfile.open(layer, mode="r|*") as tar:
        for member in tar:
            name = _safe_name(member.name, layer)
            if not name.parts:
                continue
            if name.name.startswith(WHITEOUT_PREFIX):
                _apply_whiteout(name, dest)
                continue
            try:
                # The "data" filter rejects absolute links, links leaving dest and device files.
                member = tarfile.data_filter(member, str(dest))
            except tarfile.FilterError as exc:
                raise PermanentError(f"layer {layer.name}: {exc}", system="image") from exc
            target = dest.joinpath(*name.parts)
            if not (member.isdir() and target.is_dir() and not target.is_symlink()):
                _remove(target)  # replace rather than write through an earlier symlink
            tar.extract(member, dest, set_attrs=not member.issym(), filter="fully_trusted")


def unpack_image(layer_paths: list[Path], dest: Path) -> None:
    """Apply ``layer_paths`` (gzip or plain tar) in order to the root directory ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for layer in layer_paths:
        try:
            _extract_layer(layer, dest.absolute())
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise PermanentError(f"cannot unpack layer {layer.name}: {exc}", system="image") from exc
