"""URL path converters: ids that fit the database's 64-bit integers (a longer number is a 404), and
names without control characters (PostgreSQL cannot even compare text holding a NUL: a 500)."""

from __future__ import annotations

import re

from django.urls import register_converter

MAX_DIGITS = 18
ID_PATTERN = re.compile(rf"^[0-9]{{1,{MAX_DIGITS}}}$")


class IdConverter:
    regex = f"[0-9]{{1,{MAX_DIGITS}}}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class NameConverter:
    """A model or application name in a path: no '/' and no control characters (a 404 otherwise)."""

    regex = r"[^/\x00-\x1f\x7f]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(IdConverter, "id")
register_converter(NameConverter, "name")


def parse_id(value: str | None) -> int | None:
    """A query-string id (ASCII digits, at most 18 of them), or None for anything else."""
    return int(value) if value and ID_PATTERN.match(value) else None
