"""The API's form and multipart parsers: DRF's, refusing what the product cannot store or read.

Like :class:`core.safejson.SafeJSONParser` for JSON bodies: a NUL character in a field's
name or value is a 400 naming the field (PostgreSQL refuses NUL in text, even in a lookup), and
an upload cut off at ``MAX_UPLOAD_BYTES`` is a 413.
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from core.limits import upload_too_large


def check_fields(data: QueryDict) -> None:
    for name, values in data.lists():
        if "\x00" in name or any("\x00" in value for value in values if isinstance(value, str)):
            shown = name.replace("\x00", "\\u0000")[:40]
            raise ParseError(f"{shown} contains a NUL character (\\u0000), which cannot be stored.")


class FormParser(parsers.FormParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        check_fields(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    """Also refuses an upload that ``HashingUploadHandler`` cut off at ``MAX_UPLOAD_BYTES``.

    The handler stops reading there, without reading the rest (it may be gigabytes), and marks the
    request; the parse then has no file, which would read as a request that sent none.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        request = (parser_context or {}).get("request")
        if getattr(getattr(request, "_request", request), "upload_too_large", False):
            raise upload_too_large()
        check_fields(parsed.data)  # (Django drops unprintable characters from file names itself)
        return parsed
