"""``{% navigation %}``: the header's links for the signed-in user, built once per set of links.

The links depend only on which of them the user's permissions show, and on the URL prefix the
site is served under; reversing a dozen URL names on every page was the largest share of a
cached page's time (the overview's). Permission checks still run on every request.
"""

from __future__ import annotations

import functools
from typing import Any

from django import template
from django.urls import get_script_prefix, reverse
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

register = template.Library()

SUPERUSER = "superuser"
# (label, URL name, permission that shows it: None for everyone with a role)
LINKS: tuple[tuple[str, str, str | None], ...] = (
    ("Models", "models_registry:list", None),
    ("Applications", "builds:applications", None),
    ("Builds", "builds:builds", None),
    ("Images", "builds:images", None),
    ("Releases", "releases:releases", None),
    ("Approvals", "releases:approvals", "releases.approve_release"),
    ("DORA", "dora", None),
    ("Notifications", "notifications:channels", "notifications.view_notificationchannel"),
    ("Clusters", "clusters:clusters", "clusters.view_cluster"),
    ("Jobs", "jobs", None),
    ("Audit log", "audit", None),
    ("API", "api-docs", None),
    ("Admin", "admin:index", SUPERUSER),
)


@register.simple_tag(takes_context=True)
def navigation(context: template.Context) -> SafeString:
    user: Any = context["user"]
    shown = tuple(
        needs is None or (user.is_superuser if needs == SUPERUSER else user.has_perm(needs))
        for _, _, needs in LINKS
    )
    return _links(shown, get_script_prefix())


@functools.lru_cache(maxsize=64)
def _links(shown: tuple[bool, ...], prefix: str) -> SafeString:
    """The ``<a>`` elements; ``prefix`` is only part of the key (``reverse`` reads it itself)."""
    return format_html_join(
        "\n    ",
        '<a href="{}">{}</a>',
        ((reverse(name), label) for (label, name, _), show in zip(LINKS, shown, strict=True) if show),
    )
