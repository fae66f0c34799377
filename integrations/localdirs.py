"""Folders the local implementations (builder, registry, deployment target) work in."""

from __future__ import annotations

import tempfile
from pathlib import Path

from integrations.errors import PermanentError


def require_writable_dir(path: Path, what: str, *, system: str) -> None:
    """Create ``path`` if needed and prove a file can be written there, or say why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:
        raise PermanentError(f"{what} {path} is not writable: {exc}", system=system) from exc
