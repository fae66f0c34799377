"""The OpenAPI schema's error answers: one shape for every error, and the statuses each operation
can answer, added to every operation so that no view is forgotten.

Every 4xx/5xx body of the API is JSON with ``detail`` (see :func:`core.api.exception_handler`).
:class:`AutoSchema` (``DEFAULT_SCHEMA_CLASS``) documents the errors that follow from how a view is
built; a view names the ones only its own logic knows in ``error_statuses``, per method, the way it
names its permissions::

    error_statuses = {"POST": (404, 409)}
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from core.api import SAFE_METHODS, HasRolePermission

DESCRIPTIONS = {
    400: "Invalid request: malformed, a parameter or field out of range, or refused by a rule "
    "(`field` names the input, `errors` holds per-field messages).",
    401: "Not signed in, or the token is invalid, expired or revoked.",
    403: "Your role (or your relation to the object) does not allow this; signed in by session, "
    "also a missing CSRF token.",
    404: "No such object.",
    409: "The object's state does not allow this now; `detail` says why.",
    413: "The request is too large: `detail` says what, `limit` is the most accepted.",
    415: "The body's content type is not one this operation reads.",
    429: "Too many attempts; wait as long as `Retry-After` says.",
    503: "An external system (e.g. the model store) could not be reached; nothing changed, try again.",
}
BODY_METHODS = ("POST", "PUT", "PATCH")


class ErrorSerializer(serializers.Serializer):
    """What every error answer of the API holds."""

    detail = serializers.CharField(help_text="what went wrong, in words for people")
    code = serializers.CharField(required=False, help_text="the kind of error, e.g. not_found, conflict")
    field = serializers.CharField(required=False, help_text="the input the error is about")
    # The stubs see Serializer.errors here; the metaclass moves declared fields off the class.
    errors = serializers.DictField(required=False, help_text="the messages of each invalid field")  # type: ignore[assignment]
    limit = serializers.IntegerField(required=False, help_text="with 413: the most this request may hold")


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, plus each operation's error answers with :class:`ErrorSerializer`."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        error = {"application/json": {"schema": self.resolve_serializer(ErrorSerializer, "response").ref}}
        for status in sorted(self.error_statuses(has_body="requestBody" in operation)):
            operation["responses"].setdefault(
                str(status), {"description": DESCRIPTIONS[status], "content": error}
            )
        return operation

    def error_statuses(self, *, has_body: bool) -> set[int]:
        statuses = {400, *getattr(self.view, "error_statuses", {}).get(self.method, ())}
        permissions = self.view.get_permissions()
        if not all(isinstance(permission, AllowAny) for permission in permissions):
            statuses.add(401)
            if self.method not in SAFE_METHODS:
                statuses.add(403)  # a session sign-in without the CSRF token
        if any(isinstance(permission, HasRolePermission) for permission in permissions):
            statuses.add(403)
        if "{" in self.path:
            statuses.add(404)
        if has_body and self.method in BODY_METHODS:
            statuses.update((413, 415))
        return statuses
