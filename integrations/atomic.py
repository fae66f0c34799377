"""Files that appear whole or not at all.

Data is written to a temporary file in the destination's directory (so the final rename stays
on one filesystem), flushed to disk, then renamed over the destination with ``os.replace``:
readers in other processes see the old content or the new, never half of it. A failure
anywhere removes the temporary file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import BinaryIO


class AtomicFile:
    """``with AtomicFile(path) as out: out.write(...)`` puts ``path`` in place when the block succeeds.

    The temporary file is created here, before the block, so a caller can tell "cannot even
    create a file there" apart from errors while writing. ``overwrite=False`` keeps a file
    another process put at ``path`` first (it is linked in place, never renamed over it).
    The temporary file has mode 0600, which the final file keeps.
    """

    def __init__(self, path: Path, *, prefix: str = ".tmp-", overwrite: bool = True) -> None:
        self.path = path
        self.overwrite = overwrite
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=prefix)
        self.tmp = Path(name)
        self.file: BinaryIO = os.fdopen(fd, "wb")

    def __enter__(self) -> BinaryIO:
        return self.file

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc is None:
                self._commit()
            else:
                self.file.close()
        finally:
            self.tmp.unlink(missing_ok=True)

    def _commit(self) -> None:
        with self.file:
            self.file.flush()
            os.fsync(self.file.fileno())
        if self.overwrite:
            os.replace(self.tmp, self.path)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(self.tmp, self.path)  # atomic, and never replaces what another process wrote


def write_atomic(path: Path, data: bytes, *, prefix: str = ".tmp-", overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` whole (see :class:`AtomicFile`)."""
    with AtomicFile(path, prefix=prefix, overwrite=overwrite) as out:
        out.write(data)
