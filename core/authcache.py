"""The signed-in user, with their permissions and role names, from the shared cache when reading.

Django answers "who is this and what may they do" with a query for the user, two for the
permissions and one for the role names, on every request: more than a cached page itself costs.
For reads (GET, HEAD, OPTIONS) :class:`CachedAuthenticationMiddleware` takes the user, their
permission set and role names from the cache in one round trip to Redis, shared by every web
replica. What keeps that safe:

* **Actions are never authorised from the cache.** POST, PUT, PATCH and DELETE read the user and
  their permissions from the database, as Django does, so whatever changes state is checked
  against the roles as they are now.
* **Any change drops every entry.** Saving or deleting a user, a group or a permission, and
  changing who is in a group or what a group may do, replaces a shared generation token once the
  transaction commits; entries of another generation are ignored. That covers the admin, the
  role commands, single sign-on's role mapping and ``migrate``.
* **Entries are short-lived** (``AUTH_CACHE_SECONDS``, 0 turns the cache off), which bounds
  what a change made outside the ORM (raw SQL) leaves visible on read-only pages.
* **The session is still verified**: a session whose password hash no longer matches the user's
  falls through to Django, which signs it out.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from core.roles import ROLE_NAMES_ATTRIBUTE, role_names

logger = logging.getLogger(__name__)

GENERATION_KEY = "auth:generation"
READS = frozenset({"GET", "HEAD", "OPTIONS"})


def _key(user_id: object) -> str:
    return f"auth:user:{user_id}"


def cached_user(request: HttpRequest) -> AbstractBaseUser | AnonymousUser:
    """``auth.get_user(request)``, from the cache for reads when an entry of this generation is there."""
    if request.method not in READS or not settings.AUTH_CACHE_SECONDS:
        return auth.get_user(request)
    user_id = request.session.get(auth.SESSION_KEY)
    backend = request.session.get(auth.BACKEND_SESSION_KEY)
    if user_id is None or backend not in settings.AUTHENTICATION_BACKENDS:
        return auth.get_user(request)
    found = cache.get_many([GENERATION_KEY, _key(user_id)])
    generation = found.get(GENERATION_KEY)
    entry = found.get(_key(user_id))
    if generation and isinstance(entry, tuple) and entry[:2] == (generation, backend):
        user = entry[2]
        session_hash = request.session.get(auth.HASH_SESSION_KEY) or ""
        if constant_time_compare(session_hash, user.get_session_auth_hash()):
            user.backend = backend
            return user
        return auth.get_user(request)  # Django tries the fallback secrets or signs the session out
    if not generation:
        cache.add(GENERATION_KEY, secrets.token_hex(8), None)
        generation = cache.get(GENERATION_KEY)
    # Read from the database after the generation: a change that commits meanwhile replaces it,
    # so what is stored below is ignored rather than served stale.
    user = auth.get_user(request)
    if user.is_authenticated and generation:
        user.get_all_permissions()  # fills the permission caches Django keeps on the user object
        setattr(user, ROLE_NAMES_ATTRIBUTE, role_names(user))
        cache.set(_key(user.pk), (generation, backend, user), settings.AUTH_CACHE_SECONDS)
    return user


class CachedAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's ``AuthenticationMiddleware``, with :func:`cached_user` behind ``request.user``."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)

        def user() -> Any:
            if not hasattr(request, "_cached_user"):
                request._cached_user = cached_user(request)  # type: ignore[attr-defined]
            return request._cached_user  # type: ignore[attr-defined]

        request.user = SimpleLazyObject(user)  # type: ignore[assignment]


def forget_all(**kwargs: Any) -> None:
    """Drop every cached user once the change that called this commits (signal receiver)."""
    transaction.on_commit(_new_generation, robust=True)


def _new_generation() -> None:
    try:
        cache.set(GENERATION_KEY, secrets.token_hex(8), None)
    except RedisConnectionError as exc:
        # Not running (``migrate`` and ``seed_demo`` before ``make run`` starts Redis, say):
        # nothing can be served from it now, and what it held before expires at its absolute
        # time, within AUTH_CACHE_SECONDS, even across a restart.
        logger.debug("no Redis to drop the cached sign-ins from: %s", exc)
    except (RedisError, OSError) as exc:
        logger.warning("could not drop the cached sign-ins (%s); they expire within AUTH_CACHE_SECONDS", exc)


def connect_signals() -> None:
    """Forget cached users on any change to users, groups, permissions or their links."""
    user_model = auth.get_user_model()
    for model in (user_model, Group, Permission):
        post_save.connect(forget_all, sender=model, dispatch_uid=f"authcache.save.{model.__name__}")
        post_delete.connect(forget_all, sender=model, dispatch_uid=f"authcache.delete.{model.__name__}")
    for through in (
        user_model.groups.through,
        user_model.user_permissions.through,
        Group.permissions.through,
    ):
        m2m_changed.connect(forget_all, sender=through, dispatch_uid=f"authcache.m2m.{through.__name__}")
