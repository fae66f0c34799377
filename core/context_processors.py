from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.roles import role_names


def roles(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_roles": []}
    return {"user_roles": role_names(user)}
