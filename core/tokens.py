"""API tokens: issued (the key shown once), stored hashed, checked on each request, revoked.

Every issue and revocation is audited; the key itself never reaches a row, a page or a log.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from core import audit
from core.audit import Actor
from core.errors import ForbiddenError
from core.models import ApiToken

KEY_PREFIX = "dt_"
LAST_USED_PRECISION = timedelta(minutes=1)  # at most one write per token and minute


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue(user: Any, *, name: str, actor: Actor, valid_days: int | None = None) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns it and its key, which is never shown again."""
    key = KEY_PREFIX + secrets.token_urlsafe(30)
    expires = timezone.now() + timedelta(days=valid_days) if valid_days else None
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name.strip() or "api", prefix=key[:11], key_hash=key_hash(key), expires_at=expires
        )
        audit.record("token.create", token, actor=actor, after=token.audit_state())
    return token, key


def may_manage(token: ApiToken, actor: Any) -> bool:
    return bool(getattr(actor, "is_superuser", False)) or token.user_id == getattr(actor, "pk", None)


def revoke(token: ApiToken, *, actor: Any) -> ApiToken:
    """Revoke ``token`` (its owner or an admin); revoking twice changes nothing."""
    if not may_manage(token, actor):
        raise ForbiddenError("Only the token's owner or an admin can revoke it.")
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is None:
            before = token.audit_state()
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit.record("token.revoke", token, actor=actor, before=before, after=token.audit_state())
    return token


class HashedTokenAuthentication(BaseAuthentication):
    """``Authorization: Token <key>``: the key's hash must name an active token of an active user."""

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: use 'Token <key>'.")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token header: the key is not ASCII.") from None
        token = ApiToken.objects.select_related("user").filter(key_hash=key_hash(key)).first()
        if token is None or not token.is_active or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        self._note_use(token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword

    @staticmethod
    def _note_use(token: ApiToken) -> None:
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)


class TokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes :class:`HashedTokenAuthentication`."""

    target_class = "core.tokens.HashedTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'A key from POST /api/v1/auth/token/, sent as "Token <key>".',
        }
