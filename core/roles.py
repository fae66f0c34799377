"""Roles are Django groups with a fixed set of permissions, kept in sync after each migrate.

Each app says which of its permissions each role has (``<app>/roles.py``: ``PERMISSIONS``, a
role slug or ``EVERYONE`` mapped to ``"app_label.codename"`` names); core collects them
through the app registry. Views and API endpoints check the permissions, never group names.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from core import audit
from core.registry import declarations
from core.rolenames import ADMIN_ROLE, ROLE_GROUPS

__all__ = [
    "ADMIN_ROLE",
    "EVERYONE",
    "ROLE_CHOICES",
    "ROLE_GROUPS",
    "request_role_names",
    "role_group",
    "role_names",
    "sync_roles",
]

EVERYONE = "*"
ROLE_NAMES_ATTRIBUTE = "_role_names"  # set by core.authcache on the users it caches
ROLE_CHOICES = (*ROLE_GROUPS, ADMIN_ROLE)
# core's own: everyone may read the audit trail and the job runs.
PERMISSIONS = {EVERYONE: ["dashboard.view_auditevent", "dashboard.view_jobrun"]}


def role_permissions() -> dict[str, list[str]]:
    """Each role's permissions, as every installed app declares them."""
    merged: dict[str, list[str]] = {role: [] for role in ROLE_GROUPS}
    for declared in declarations("roles", "PERMISSIONS"):
        for role, names in declared.items():
            for target in ROLE_GROUPS if role == EVERYONE else [role]:
                merged[target].extend(name for name in names if name not in merged[target])
    return merged


def _permissions(names: list[str]) -> list[Permission]:
    query = Q()
    for name in names:
        app_label, codename = name.split(".", 1)
        query |= Q(content_type__app_label=app_label, codename=codename)
    return list(Permission.objects.filter(query)) if names else []


def sync_roles(**kwargs: Any) -> None:
    """Create the role groups and give each exactly its permissions (post_migrate handler)."""
    for role, names in role_permissions().items():
        group, _ = Group.objects.get_or_create(name=ROLE_GROUPS[role])
        group.permissions.set(_permissions(names))


def role_group(role: str) -> Group | None:
    """The group of a role slug; None for the admin role (a superuser has every permission)."""
    if role == ADMIN_ROLE:
        return None
    return Group.objects.get(name=ROLE_GROUPS[role])


def request_role_names(request: Any) -> list[str]:
    """The signed-in user's role names, read once per request (the view and the page's header
    both ask)."""
    names = getattr(request, ROLE_NAMES_ATTRIBUTE, None)
    if names is None:
        user = getattr(request, "user", None)
        names = role_names(user) if user is not None and user.is_authenticated else []
        setattr(request, ROLE_NAMES_ATTRIBUTE, names)
    return list(names)


def role_names(user: Any) -> list[str]:
    """Human names of a user's roles, for display (kept on a user from core.authcache's cache)."""
    remembered = getattr(user, ROLE_NAMES_ATTRIBUTE, None)
    if remembered is not None:
        return list(remembered)
    names = [group.name for group in user.groups.all() if group.name in ROLE_GROUPS.values()]
    if user.is_superuser:
        names.append("Admin")
    return names


def set_roles(user: Any, roles: set[str], *, actor: Any) -> bool:
    """Give ``user`` exactly these roles (other groups stay); audited like the admin's changes.

    Returns whether anything changed. The caller holds the transaction.
    """
    current = list(user.groups.all())
    wanted = {ROLE_GROUPS[role] for role in roles}
    drop = [group for group in current if group.name in ROLE_GROUPS.values() and group.name not in wanted]
    have = {group.name for group in current}
    add = list(Group.objects.filter(name__in=wanted - have))
    if not drop and not add:
        return False
    before = sorted(have)
    user.groups.remove(*drop)
    user.groups.add(*add)
    after = sorted(group.name for group in user.groups.all())
    audit.record("user.update", user, actor=actor, before={"groups": before}, after={"groups": after})
    return True
