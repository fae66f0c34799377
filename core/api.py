"""REST API plumbing shared by every app: permissions per role and JSON error bodies."""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from core.converters import parse_id
from core.errors import ServiceError
from core.forms import describe_errors
from core.limits import RequestTooLarge, too_large

Default = TypeVar("Default", bound=int | None)  # with no PAGE_SIZE, DRF's default limit is None: no paging

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class Pagination(LimitOffsetPagination):
    """limit/offset paging. A limit or offset that is not a whole number within its bounds is a 400
    naming it (DRF would quietly use the default), and so is ``page``: these lists have no pages."""

    max_limit = 500
    max_offset = 10**12  # far past any list, and well inside the database's 64-bit integers

    def paginate_queryset(self, queryset: Any, request: Request, view: APIView | None = None) -> Any:
        if "page" in request.query_params:
            raise ServiceError("page is not a parameter here: page with limit and offset.", field="page")
        return super().paginate_queryset(queryset, request, view)

    def get_limit(self, request: Request) -> int | None:
        params = request.query_params
        return query_int(
            params, self.limit_query_param, default=self.default_limit, low=1, high=self.max_limit
        )

    def get_offset(self, request: Request) -> int:
        return query_int(
            request.query_params, self.offset_query_param, default=0, low=0, high=self.max_offset
        )

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        bounds = {self.limit_query_param: (1, self.max_limit), self.offset_query_param: (0, self.max_offset)}
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            low, high = bounds[parameter["name"]]
            parameter["schema"].update(minimum=low, maximum=high)
        return parameters


def query_int(params: Any, name: str, *, default: Default, low: int, high: int) -> int | Default:
    """A whole number from the query string within [low, high], ``default`` when absent; else a 400."""
    if name not in params:
        return default
    value = parse_id(params.get(name))
    if value is None or not low <= value <= high:
        raise ServiceError(f"{name} must be a whole number from {low} to {high}.", field=name)
    return value


def query_id(params: Any, name: str) -> int:
    """An id from the query string, or a 400 naming the parameter."""
    value = parse_id(params.get(name))
    if value is None:
        raise ServiceError(f"{name} must be a whole number.", field=name)
    return value


def query_text(params: Any, name: str) -> str:
    """A text filter from the query string ("" when absent); a NUL is a 400, not a database error."""
    value = params.get(name) or ""
    if "\x00" in value:
        raise ServiceError(f"{name} must not contain NUL characters.", field=name)
    return value


class HasRolePermission(BasePermission):
    """Checks the Django permission the view names for the request's method.

    Views set ``required_permissions = {"GET": "app.view_x", "POST": "app.add_x"}``; a
    method missing from the map falls back to the "GET" entry for safe methods and is
    refused otherwise, so forgetting an entry never opens a write.
    """

    message = "Your role does not allow this action."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        required: dict[str, str] = getattr(view, "required_permissions", {})
        method = request.method or "GET"
        perm = required.get(method) or (required.get("GET") if method in SAFE_METHODS else None)
        return bool(perm and request.user.has_perm(perm))


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler plus our service errors; every error body is JSON with a ``detail``."""
    large = exc if isinstance(exc, RequestTooLarge) else too_large(exc)
    if large is not None:
        body: dict[str, Any] = {"detail": str(large.detail), "code": "too_large", "limit": large.limit}
        return Response(body, status=large.status_code)
    if isinstance(exc, ServiceError):
        body = {"detail": exc.message, "code": exc.code}
        if exc.field:
            body["field"] = exc.field
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        return Response({"detail": " ".join(exc.messages), "code": "invalid"}, status=400)
    if isinstance(exc, PermissionDenied):
        return Response({"detail": str(exc) or HasRolePermission.message}, status=403)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        response.data = {"detail": " ".join(str(message) for message in response.data) or "Invalid input."}
    elif response is not None and "detail" not in response.data:
        response.data = {"detail": describe_errors(response.data), "errors": response.data}
    return response
