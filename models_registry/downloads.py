"""The download answer for a version's bytes, shared by the page and the API."""

from __future__ import annotations

import re
from urllib.parse import quote

from django.http import StreamingHttpResponse

from models_registry import content
from models_registry.models import ModelVersion


def download_response(version: ModelVersion) -> StreamingHttpResponse:
    """Stream a version's registered bytes from the store, checked on the way."""
    response = StreamingHttpResponse(content.download(version), content_type="application/octet-stream")
    response["Content-Length"] = str(version.size)
    response["Content-Disposition"] = attachment(version.filename or "model")
    response["X-Content-SHA256"] = version.sha256
    return response


def attachment(filename: str) -> str:
    """A Content-Disposition whose parameters no filename can add to: a plain ASCII name of safe
    characters, and the exact name percent-encoded (RFC 6266, RFC 8187)."""
    plain = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("._") or "model"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"
