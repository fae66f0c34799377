"""Querysets that pages and the API share (each with the joins its lists need)."""

from __future__ import annotations

from django.db.models import QuerySet

from builds.models import Build


def builds_queryset() -> QuerySet[Build]:
    return Build.objects.select_related("application", "model_version__model", "requested_by", "image")
