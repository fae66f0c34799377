"""Querysets and look-ups that pages and the API share."""

from __future__ import annotations

from django.db.models import Count, Max, Q, QuerySet
from django.shortcuts import get_object_or_404

from core.listing import Filter
from models_registry.models import ModelVersion, RegisteredModel


def models_with_counts() -> QuerySet[RegisteredModel]:
    return (
        RegisteredModel.objects.select_related("owner")
        .annotate(
            version_count=Count("versions"),
            # The newest version that can be built: pending and failed ones have no content yet.
            latest_version=Max("versions__version", filter=Q(versions__state=ModelVersion.State.READY)),
        )
        .order_by("name")
    )


def get_version(name: str, number: int) -> ModelVersion:
    return get_object_or_404(ModelVersion.objects.select_related("model"), model__name=name, version=number)


MODEL_FILTERS = [
    Filter("q", "Search", lambda qs, v: qs.filter(name__icontains=v), placeholder="name contains"),
]
