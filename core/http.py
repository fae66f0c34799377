"""Typed views of what the middleware puts on a request (django-htmx, authentication)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request as django-htmx's middleware leaves it: ``request.htmx`` says whether htmx sent it."""

    htmx: HtmxDetails


def signed_in(user: AbstractBaseUser | AnonymousUser) -> User:
    """The user of a view that requires authentication (``login_required``, ``IsAuthenticated``)."""
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")  # those views never run for anonymous users
    return user
