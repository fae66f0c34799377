"""Querysets that pages and the API share (each with the joins its lists need)."""

from __future__ import annotations

from django.db.models import QuerySet

from releases.models import Environment, Release


def environments() -> QuerySet[Environment]:
    return Environment.objects.select_related(
        "application", "previous", "current_release__image", "current_release__model_version__model"
    ).prefetch_related("freeze_windows")


def releases() -> QuerySet[Release]:
    return Release.objects.select_related(
        "environment__application", "image", "model_version__model", "requested_by"
    ).prefetch_related("approvals__approver")
