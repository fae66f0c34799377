from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.roles import request_role_names


def roles(request: HttpRequest) -> dict[str, Any]:
    return {"user_roles": request_role_names(request)}
