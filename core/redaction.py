"""Credentials that reached stored text before they were refused are never shown again.

Audit rows are append-only, so a repository URL with a token recorded before URLs were checked
stays in the row; pages and the API show every stored value through :func:`redact`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

# scheme://user:password@host or scheme://token@host -> scheme://host
USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"]+@")


def redact(value: Any) -> Any:
    """``value`` (JSON-like) with the user part of every URL inside its strings removed."""
    if isinstance(value, str):
        return USERINFO.sub(r"\1", value)
    if isinstance(value, dict):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def web_url(value: str | None) -> str:
    """``value`` if it is an http(s) address without credentials, else "": what may become a link."""
    parts = urlsplit(value or "")
    if parts.scheme in ("http", "https") and parts.hostname and not (parts.username or parts.password):
        return value or ""
    return ""
