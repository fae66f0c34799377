"""Querysets that pages and the API share (each with the joins its lists need), and their filters."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from builds.models import Build, Image
from core.listing import Filter


def builds_queryset() -> QuerySet[Build]:
    return Build.objects.select_related("application", "model_version__model", "requested_by", "image")


def images_queryset() -> QuerySet[Image]:
    return Image.objects.select_related("application", "model_version__model").prefetch_related("tags")


def _image_search(queryset: QuerySet[Image], text: str) -> QuerySet[Image]:
    """The start of a digest (with or without ``sha256:``), or a tag."""
    digest = text.removeprefix("sha256:").lower()
    return queryset.filter(Q(digest__startswith=f"sha256:{digest}") | Q(tags__tag=text)).distinct()


BUILD_FILTERS = [
    Filter("application", "Application", lambda qs, v: qs.filter(application__name=v)),
    Filter("state", "State", lambda qs, v: qs.filter(state=v), choices=tuple(Build.State.values)),
    Filter("commit", "Commit", lambda qs, v: qs.filter(commit__startswith=v), placeholder="start of a sha"),
]

IMAGE_FILTERS = [
    Filter("application", "Application", lambda qs, v: qs.filter(application__name=v)),
    Filter("model", "Model", lambda qs, v: qs.filter(model_version__model__name=v)),
    Filter("q", "Search", _image_search, placeholder="digest start or tag"),
]
