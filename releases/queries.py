"""Querysets that pages and the API share (each with the joins its lists need)."""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet

from core.listing import Filter
from releases.models import Environment, Release


def environments() -> QuerySet[Environment]:
    return Environment.objects.select_related(
        "application", "previous", "current_release__image", "current_release__model_version__model"
    ).prefetch_related("freeze_windows")


def releases() -> QuerySet[Release]:
    return Release.objects.select_related(
        "environment__application", "image", "model_version__model", "requested_by"
    ).prefetch_related("approvals__approver")


def _search(queryset: QuerySet[Release], text: str) -> QuerySet[Release]:
    """A release number (#12 or 12), or the start of its commit or image digest."""
    text = text.lstrip("#")
    if re.fullmatch(r"[0-9]{1,9}", text):  # not str.isdigit(): int() refuses "²", which it accepts
        return queryset.filter(pk=int(text))
    digest = text.removeprefix("sha256:").lower()
    if not re.fullmatch(r"[0-9a-f]{4,64}", digest):
        return queryset.none()
    return queryset.filter(Q(commit__startswith=digest) | Q(digest__startswith=f"sha256:{digest}"))


RELEASE_FILTERS = [
    Filter("application", "Application", lambda qs, v: qs.filter(environment__application__name=v)),
    Filter("state", "State", lambda qs, v: qs.filter(state=v), choices=tuple(Release.State.values)),
    Filter("q", "Search", _search, placeholder="#12, commit or digest start"),
]
