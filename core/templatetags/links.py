"""``{{ value|web_url }}``: a stored address becomes a link only when it is http(s)."""

from __future__ import annotations

from django import template

from core.redaction import web_url as _web_url

register = template.Library()


@register.filter
def web_url(value: str | None) -> str:
    return _web_url(value)
