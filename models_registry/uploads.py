"""Upload handling that hashes model files while they stream to disk.

Django's default handler either keeps an upload in memory or writes it to a temporary
file that then has to be read again to hash. This one writes each chunk to the temporary
file and feeds the same chunk to sha256, so a gigabyte model is read from the socket once
and never held in memory.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler


class HashingUploadHandler(TemporaryFileUploadHandler):
    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.digest = hashlib.sha256()
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > settings.MAX_UPLOAD_BYTES:
            if self.request is not None:
                self.request.upload_too_large = True  # type: ignore[attr-defined]
            self.upload_interrupted()
            raise StopUpload(connection_reset=True)
        self.digest.update(raw_data)
        self.file.write(raw_data)

    def file_complete(self, file_size: int) -> TemporaryUploadedFile:
        uploaded = super().file_complete(file_size)
        uploaded.sha256 = self.digest.hexdigest()  # type: ignore[attr-defined]
        return uploaded
