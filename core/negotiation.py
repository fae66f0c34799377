"""Which renderer answers a request: DRF's choice, but an unknown ``?format=`` is a 400 naming the
parameter, where DRF answers 404 as if the object were missing.

A module of its own: DRF reads the class while ``rest_framework.views`` is still loading, so it
must not import that (as :mod:`core.api` does).
"""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer

from core.errors import ServiceError


class ContentNegotiation(DefaultContentNegotiation):
    def filter_renderers(self, renderers: Iterable[BaseRenderer], format: str) -> list[BaseRenderer]:
        renderers = list(renderers)
        chosen = [renderer for renderer in renderers if renderer.format == format]
        if not chosen:
            known = ", ".join(renderer.format for renderer in renderers)
            raise ServiceError(f"format must be one of {known}.", field="format")
        return chosen
