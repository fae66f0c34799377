"""Upload handling that hashes model files while they stream to disk.

Django's default handler either keeps an upload in memory or writes it to a temporary
file that then has to be read again to hash. This one writes each chunk to the temporary
file and feeds the same chunk to sha256, so a gigabyte model is read from the socket once
and never held in memory.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload, TemporaryFileUploadHandler

from integrations.hashing import HashingWriter


class HashedUpload(TemporaryUploadedFile):
    """An upload in a temporary file, with the sha256 of its content computed as it arrived."""

    sha256 = ""


def received_sha256(upload: UploadedFile[Any]) -> str:
    """The sha256 hashed while ``upload`` arrived; "" for an upload that came another way."""
    return upload.sha256 if isinstance(upload, HashedUpload) else ""


class HashingUploadHandler(TemporaryFileUploadHandler):
    file: HashedUpload

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        # TemporaryFileUploadHandler.new_file would open a plain TemporaryUploadedFile.
        FileUploadHandler.new_file(self, *args, **kwargs)
        self.file = HashedUpload(
            self.file_name or "", self.content_type, 0, self.charset, self.content_type_extra
        )
        self.received = HashingWriter(self.file)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if self.received.size + len(raw_data) > settings.MAX_UPLOAD_BYTES:
            if self.request is not None:
                # Read by core.parsers.MultiPartParser, which answers 413 instead of "no file".
                self.request.upload_too_large = True  # type: ignore[attr-defined]
            self.upload_interrupted()
            raise StopUpload(connection_reset=True)
        self.received.write(raw_data)

    def file_complete(self, file_size: int) -> HashedUpload:
        super().file_complete(file_size)  # rewinds the file and records its size
        self.file.sha256 = self.received.hexdigest
        return self.file
