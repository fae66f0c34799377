from __future__ import annotations

import hashlib
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile


def upload(content: bytes = b"model-bytes-v1", name: str = "model.bin") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def post_version(api: Any, model: str, content: bytes = b"model-bytes-v1", **fields: Any) -> Any:
    return api.post(
        f"/api/v1/models/{model}/versions/", {"file": upload(content), **fields}, format="multipart"
    )
