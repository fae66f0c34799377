"""Filtered, paged lists: one definition of a list's filters serves its page and its API endpoint.

An app declares its filters once (``Filter`` rows: a query parameter, its label, and how it
narrows the queryset); :func:`apply` validates the request's values and narrows, raising a
``ServiceError`` naming the parameter for a bad value (a 400 in the API, a message on the page).
:func:`page_of` pages the result for a page, keeping the filters in the page links.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict
from drf_spectacular.utils import OpenApiParameter

from core.errors import ServiceError

PER_PAGE = 50
MAX_TEXT = 200


@dataclass(frozen=True)
class Filter:
    name: str  # the query parameter
    label: str
    narrow: Callable[[QuerySet[Any], str], QuerySet[Any]]
    choices: Sequence[str] = field(default_factory=tuple)  # allowed values; empty: free text
    placeholder: str = ""


def parameters(filters: Sequence[Filter]) -> list[OpenApiParameter]:
    """The filters as OpenAPI query parameters, for ``extend_schema(parameters=...)``."""
    return [
        OpenApiParameter(
            spec.name,
            str,
            enum=list(spec.choices) or None,
            description=spec.label + (f" ({spec.placeholder})" if spec.placeholder else ""),
        )
        for spec in filters
    ]


def apply(queryset: QuerySet[Any], filters: Sequence[Filter], params: Mapping[str, Any]) -> QuerySet[Any]:
    for spec in filters:
        value = str(params.get(spec.name) or "").strip()
        if not value:
            continue
        if "\x00" in value:
            raise ServiceError(f"{spec.name} must not contain NUL characters.", field=spec.name)
        if len(value) > MAX_TEXT:
            raise ServiceError(f"{spec.name} is longer than {MAX_TEXT} characters.", field=spec.name)
        if spec.choices and value not in spec.choices:
            raise ServiceError(f"{spec.name} must be one of {', '.join(spec.choices)}.", field=spec.name)
        queryset = spec.narrow(queryset, value)
    return queryset


@dataclass
class Listing:
    """What a list page renders: the page, its filters with their current values, the query to
    keep in page links, and the error a bad filter value gave (the list is then unfiltered)."""

    page: Page[Any]
    fields: list[dict[str, Any]]
    query: str
    error: str = ""


def page_of(
    request: HttpRequest, queryset: QuerySet[Any], filters: Sequence[Filter], *, per_page: int = PER_PAGE
) -> Listing:
    error = ""
    try:
        narrowed = apply(queryset, filters, request.GET)
    except ServiceError as exc:
        narrowed, error = queryset, exc.message
    page = Paginator(narrowed, per_page).get_page(request.GET.get("page"))
    keep = QueryDict(mutable=True)
    for spec in filters:
        if request.GET.get(spec.name):
            keep[spec.name] = request.GET[spec.name][:MAX_TEXT]
    fields = [
        {
            "name": spec.name,
            "label": spec.label,
            "value": request.GET.get(spec.name, "")[:MAX_TEXT],
            "choices": spec.choices,
            "placeholder": spec.placeholder,
        }
        for spec in filters
    ]
    return Listing(page=page, fields=fields, query=keep.urlencode(), error=error)
