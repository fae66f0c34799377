"""Roles are Django groups with a fixed set of permissions, kept in sync after each migrate.

The table below is the single source of truth for who may do what; views and API
endpoints check the permissions, never the group names.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

VIEW_ALL = [
    "models_registry.view_registeredmodel",
    "models_registry.view_modelversion",
    "dashboard.view_auditevent",
    "dashboard.view_jobrun",
    "builds.view_application",
    "builds.view_build",
    "builds.view_image",
    "releases.view_environment",
    "releases.view_release",
    "releases.view_schedule",
]

# role slug -> (group name, permissions as "app_label.codename")
ROLES: dict[str, tuple[str, list[str]]] = {
    "data-scientist": (
        "Data scientist",
        [
            *VIEW_ALL,
            "models_registry.add_registeredmodel",
            "models_registry.change_registeredmodel",
            "models_registry.add_modelversion",
            "models_registry.change_modelversion_status",
            "models_registry.sync_model_store",
            "builds.trigger_build",
            "releases.add_release",
        ],
    ),
    "release-manager": (
        "Release manager",
        [
            *VIEW_ALL,
            "models_registry.change_modelversion_status",
            "builds.add_application",
            "builds.change_application",
            "builds.trigger_build",
            "builds.cancel_build",
            "builds.sync_images",
            "releases.add_release",
            "releases.approve_release",
            "releases.schedule_release",
            "releases.rollback_release",
            "releases.add_environment",
            "releases.change_environment",
        ],
    ),
    "on-call": ("On-call", [*VIEW_ALL, "releases.rollback_release"]),
}
ADMIN_ROLE = "admin"
ROLE_CHOICES = (*ROLES, ADMIN_ROLE)


def _permissions(names: list[str]) -> list[Permission]:
    query = Q()
    for name in names:
        app_label, codename = name.split(".", 1)
        query |= Q(content_type__app_label=app_label, codename=codename)
    return list(Permission.objects.filter(query))


def sync_roles(**kwargs: Any) -> None:
    """Create the role groups and give each exactly its permissions (post_migrate handler)."""
    for group_name, permission_names in ROLES.values():
        group, _ = Group.objects.get_or_create(name=group_name)
        group.permissions.set(_permissions(permission_names))


def role_group(role: str) -> Group | None:
    """The group of a role slug; None for the admin role (a superuser has every permission)."""
    if role == ADMIN_ROLE:
        return None
    group_name, _ = ROLES[role]
    return Group.objects.get(name=group_name)


def role_names(user: Any) -> list[str]:
    """Human names of a user's roles, for display."""
    names = [group.name for group in user.groups.all() if group.name in {g for g, _ in ROLES.values()}]
    if user.is_superuser:
        names.append("Admin")
    return names
