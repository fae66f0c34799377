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


PIN_JOB = "models_registry.jobs.pin_version"


def run_queued(name: str = PIN_JOB) -> list[Any]:
    """Run, in this process, every queued run of job ``name`` (tests keep on-commit pushes off)."""
    from core import jobrunner
    from core.models import JobRun

    runs = list(JobRun.objects.filter(name=name, status=JobRun.Status.QUEUED).order_by("pk"))
    for run in runs:
        jobrunner.execute(run.pk)
        run.refresh_from_db()
    return runs


def publish_file(root: Any, key: str, content: bytes) -> None:
    """What a data scientist does with the filesystem store: write a file under its root."""
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
