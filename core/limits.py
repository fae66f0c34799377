"""How much the API and the pages accept: lengths of free text, and the size of a request.

A request over a size limit is refused with **413** and a JSON body naming the limit, whichever
limit it is: an uploaded file over ``MAX_UPLOAD_BYTES``, a body (JSON, form fields) over Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE``, more fields or files than ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` /
``_FILES``. Django would answer these with a bare 400 (they are ``SuspiciousOperation``s).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from rest_framework.exceptions import APIException

# Free text people type: descriptions of models and applications, and the notes, comments and
# reasons that go with a release, an approval or a status change.
DESCRIPTION_MAX_LENGTH = 10_000
NOTE_MAX_LENGTH = 2_000


class RequestTooLarge(APIException):
    status_code = 413
    default_code = "too_large"

    def __init__(self, detail: str, *, limit: int) -> None:
        super().__init__(detail)
        self.limit = limit


def describe_bytes(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f} {unit} ({size} bytes)"
    return f"{size} bytes"


def upload_too_large() -> RequestTooLarge:
    limit = settings.MAX_UPLOAD_BYTES
    return RequestTooLarge(
        f"The file is larger than {describe_bytes(limit)} (MAX_UPLOAD_BYTES).", limit=limit
    )


def too_large(exc: Exception) -> RequestTooLarge | None:
    """The 413 for one of Django's request limits, or None for any other error."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return RequestTooLarge(
            f"The request body is larger than {describe_bytes(limit)}, the most the API reads (files aside).",
            limit=limit,
        )
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        files = isinstance(exc, TooManyFilesSent)
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES if files else settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return RequestTooLarge(
            f"The request holds more than {limit} {'files' if files else 'fields'}, the most the API reads.",
            limit=limit,
        )
    return None
