"""What the overview (the home page) keeps between requests, so that on-call can keep it open.

Two layers, both checked against the shared cache on every request:

* :class:`Grids`: the rendered grid of each filter and page, in Redis for every replica and
  viewer, with a copy of the latest ones in this process. The copy is used only while its
  version is the one Redis holds.
* :class:`Pages`: the whole page as sent to one viewer for one grid version, in this process.
  Everything the page shows apart from the grid comes from the viewer (name, role names,
  permissions) or the request (filter, page, CSRF token, messages); the key holds all of it
  except the CSRF token, which is put in fresh each time, and a request with messages to show
  is rendered (showing a message consumes it).

Reading a 150 KiB grid back from Redis and rendering the page around it were most of what a
page view cost; with both copies a view of an unchanged grid costs the session, the signed-in
user and the grid's 16-character version from Redis, and no template.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.urls import get_script_prefix

from core.roles import request_role_names

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class Overview:
    """What every viewer of one filter and page of the grid sees: nothing in it is per user."""

    grid_html: str
    page_number: int
    waiting_approvals: int
    version: str  # changes when what the page shows changes, not with the render time


class _Recent(Generic[K, V]):
    """The ``kept`` most recently used entries; gunicorn's threads share it."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.kept:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Grids:
    """The grids in the shared cache, with a copy of the latest ones in this process.

    The cache holds each grid and, under ``…:version``, its version alone: a poll that holds
    the current grid, or a view whose copy is current, reads only that.
    """

    def __init__(self, kept: int) -> None:
        self._copies: _Recent[str, Overview] = _Recent(kept)

    def version(self, key: str) -> str | None:
        version = cache.get(f"{key}:version")
        return version if isinstance(version, str) else None

    def get(self, key: str, version: str) -> Overview | None:
        """The grid of ``version`` (what :meth:`version` read): this process' copy, else Redis'."""
        copy = self._copies.get(key)
        if copy is not None and copy.version == version:
            return copy
        cached = cache.get(key)
        if not isinstance(cached, Overview):
            return None
        self._copies.put(key, cached)
        return cached

    def put(self, key: str, overview: Overview, seconds: int) -> None:
        cache.set_many({key: overview, f"{key}:version": overview.version}, seconds)
        self._copies.put(key, overview)

    def forget_copies(self) -> None:
        self._copies.clear()


class Pages:
    """Home pages as last sent to each kind of viewer, per grid version, in this process."""

    def __init__(self, kept: int) -> None:
        self._pages: _Recent[tuple[object, ...], tuple[bytes, ...]] = _Recent(kept)

    def respond(
        self,
        request: HttpRequest,
        overview: Overview,
        filters: tuple[str, int],
        render: Callable[[dict[str, Any]], HttpResponse],
    ) -> HttpResponse:
        """The page for this viewer: a copy with this request's CSRF token put in, or
        ``render(extra_context)`` (kept for the next time when it is a plain 200)."""
        if len(messages.get_messages(request)):  # len() reads them without marking them shown
            return render({})
        key = self._key(request, overview, filters)
        parts = self._pages.get(key)
        token = get_token(request)
        if parts is not None:
            return HttpResponse(token.encode().join(parts))
        # The page's token is this one (a context value wins over the context processor's), so
        # the bytes split at it and later requests put theirs in the same places.
        response = render({"csrf_token": token})
        if response.status_code == 200 and not response.streaming:
            self._pages.put(key, tuple(response.content.split(token.encode())))
        return response

    @staticmethod
    def _key(request: HttpRequest, overview: Overview, filters: tuple[str, int]) -> tuple[object, ...]:
        user: Any = request.user
        return (
            user.pk,
            user.get_username(),
            user.is_superuser,
            tuple(request_role_names(request)),
            frozenset(user.get_all_permissions()),
            get_script_prefix(),
            filters,
            overview.version,
        )

    def forget(self) -> None:
        self._pages.clear()
