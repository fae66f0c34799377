"""Single sign-on with OpenID Connect (authorization code flow with PKCE), on mozilla-django-oidc.

The library makes the authorization request (state, nonce, PKCE verifier kept in the session),
exchanges the code and fetches the provider's JWKS. On top of it this module:

* checks the ID token completely: RS256 signature against the JWKS, issuer, audience, expiry
  (the library checks only the signature and the nonce);
* finds users by (issuer, subject) in :class:`~core.models.SignInIdentity`, never by name or
  e-mail, and creates them on their first sign-in;
* sets the user's roles at every sign-in exactly to those ``OIDC_ROLE_MAP`` gives their groups;
* turns every failure into :class:`SignInRefused`, which the callback shows as a page.

Sign-in is the one request that talks to an outside system (the provider), with a deadline of
``OIDC_TIMEOUT`` seconds per call.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from core import audit
from core.models import SignInIdentity
from core.roles import set_roles
from integrations import oidc
from integrations.errors import IntegrationError

logger = logging.getLogger(__name__)
BACKEND = "core.sso.OIDCBackend"
ACTOR = "system:sso"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]


class SignInRefused(Exception):
    """Single sign-on did not succeed; the message says why, for the person signing in."""

    def __init__(self, message: str, *, status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER)


def provider_endpoints() -> oidc.Endpoints:
    """The provider's endpoints (discovery is read at the first sign-in, then kept)."""
    try:
        return oidc.endpoints(
            settings.OIDC_ISSUER,
            authorization=settings.OIDC_OP_AUTHORIZATION_ENDPOINT,
            token=settings.OIDC_OP_TOKEN_ENDPOINT,
            jwks=settings.OIDC_OP_JWKS_ENDPOINT,
            userinfo=settings.OIDC_OP_USER_ENDPOINT,
            timeout=settings.OIDC_TIMEOUT,
        )
    except IntegrationError as exc:
        logger.warning("single sign-on: %s", exc)
        raise SignInRefused(
            f"{settings.OIDC_PROVIDER_NAME} cannot be reached right now ({exc}); try again later.", status=502
        ) from exc


def roles_for(claims: dict[str, Any]) -> set[str]:
    """The roles ``OIDC_ROLE_MAP`` gives the groups named in the claims."""
    name = settings.OIDC_GROUPS_CLAIM
    groups = claims.get(name)
    if groups is None and name in (claims.get("_claim_names") or {}):
        # Entra ID sends no list past 200 groups ("group overage"); reading them needs Graph.
        raise SignInRefused(
            f"{settings.OIDC_PROVIDER_NAME} sent too many groups to list in the sign-in token. "
            "Ask an admin to send only the groups assigned to this application (see docs/sso.md)."
        )
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        return set()
    names = {str(group) for group in groups}
    return {role for group, role in settings.OIDC_ROLE_MAP if group in names}


def username_for(claims: dict[str, Any]) -> str:
    """A free user name from the claims: the preferred one, else the e-mail, else the subject."""
    wanted = str(claims.get("preferred_username") or claims.get("email") or claims["sub"])
    base = re.sub(r"[^\w.@+-]", "-", wanted)[:140] or "user"
    user_model = get_user_model()
    candidate, number = base, 1
    while user_model.objects.filter(username__iexact=candidate).exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate


class OIDCBackend(OIDCAuthenticationBackend):
    """Signs in only from the callback (``nonce`` given); otherwise a plain ModelBackend for
    permission checks, so it also serves when password sign-in is off."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The library reads every endpoint here; ours come at sign-in (discovery may be needed).
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None

    def authenticate(self, request: Any, **kwargs: Any) -> Any:
        if request is None or "nonce" not in kwargs or not enabled():
            return None  # a password sign-in, or SSO is off: not ours
        found = provider_endpoints()
        self.OIDC_OP_TOKEN_ENDPOINT = found.token
        self.OIDC_OP_JWKS_ENDPOINT = found.jwks
        self.OIDC_OP_USER_ENDPOINT = found.userinfo
        try:
            return super().authenticate(request, **kwargs)
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            answer = exc.response.text[:200] if exc.response is not None else str(exc)
            logger.warning("single sign-on: the provider answered %s: %s", status, answer)
            if status >= 500:  # its trouble, not the sign-in's: worth trying again
                raise SignInRefused(
                    f"{settings.OIDC_PROVIDER_NAME} is having trouble (HTTP {status}); try again later.",
                    status=502,
                ) from exc
            raise SignInRefused(
                f"{settings.OIDC_PROVIDER_NAME} refused to complete the sign-in; start again."
            ) from exc
        except requests.RequestException as exc:
            raise SignInRefused(
                f"{settings.OIDC_PROVIDER_NAME} did not answer in time ({type(exc).__name__}); try again.",
                status=502,
            ) from exc
        except SuspiciousOperation as exc:
            logger.warning("single sign-on refused: %s", exc)
            raise SignInRefused(f"The sign-in was refused: {exc}") from exc

    def get_token(self, payload: dict[str, Any]) -> Any:
        """The token endpoint's answer, which the library reads with ``.get`` (so: an object)."""
        try:
            answer = super().get_token(payload)
        except requests.JSONDecodeError as exc:  # before RequestException, which it also is
            raise SuspiciousOperation("the provider's token answer is not JSON.") from exc
        if not isinstance(answer, dict):
            raise SuspiciousOperation("the provider's token answer is not a JSON object.")
        return answer

    def verify_token(self, token: str, **kwargs: Any) -> Any:
        if not token:
            raise SuspiciousOperation("the provider sent no ID token.")
        return super().verify_token(token, **kwargs)  # signature (below), then the nonce

    def _verify_jws(self, payload: str, key: Any) -> Any:
        """The library checks the signature only; we check issuer, audience and expiry too."""
        header = jwt.get_unverified_header(payload)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"the ID token is signed with {header.get('alg')!r}, not RS256.")
        try:
            return jwt.decode(
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=settings.OIDC_ISSUER,
                options={"require": REQUIRED_CLAIMS},
                leeway=60,  # clocks of the provider and of this server may differ a little
            )
        except jwt.ExpiredSignatureError as exc:
            raise SuspiciousOperation("the ID token has expired.") from exc
        except jwt.InvalidIssuerError as exc:
            raise SuspiciousOperation("the ID token comes from another issuer.") from exc
        except jwt.InvalidAudienceError as exc:
            raise SuspiciousOperation("the ID token was issued for another application.") from exc
        except jwt.InvalidSignatureError as exc:
            raise SuspiciousOperation("the ID token's signature does not match the provider's keys.") from exc
        except jwt.PyJWTError as exc:
            raise SuspiciousOperation(f"the ID token is not valid ({exc}).") from exc

    def retrieve_matching_jwk(self, token: str) -> Any:
        try:
            return super().retrieve_matching_jwk(token)
        except SuspiciousOperation as exc:
            raise SuspiciousOperation(
                "the ID token is signed with a key the provider does not publish."
            ) from exc
        except (KeyError, TypeError, ValueError, jwt.PyJWTError) as exc:  # TypeError: not a key set
            raise SuspiciousOperation("the provider's keys (JWKS) could not be read.") from exc

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The ID token's claims, with the userinfo endpoint's added (the ID token's win)."""
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT and access_token:
            extra = super().get_userinfo(access_token, id_token, payload)
            if isinstance(extra, dict) and extra.get("sub") == payload["sub"]:
                claims = {**extra, **payload}
        return claims

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return bool(claims.get("sub"))

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        claims = self.get_userinfo(access_token, id_token, payload)
        if not self.verify_claims(claims):
            raise SignInRefused("The provider did not say who you are (no subject in the token).")
        roles = roles_for(claims)
        return sign_in_user(claims, roles)

    def get_user(self, user_id: Any) -> Any:
        # The library's returns deactivated users too; Django's keeps them signed out.
        return ModelBackend.get_user(self, user_id)

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        return self.UserModel.objects.filter(
            identities__issuer=settings.OIDC_ISSUER, identities__subject=claims["sub"]
        )


def sign_in_user(claims: dict[str, Any], roles: set[str]) -> Any:
    """The user behind these verified claims (created on the first sign-in), with exactly ``roles``."""
    with transaction.atomic():
        identity = (
            SignInIdentity.objects.select_for_update()
            .select_related("user")
            .filter(issuer=settings.OIDC_ISSUER, subject=str(claims["sub"]))
            .first()
        )
        if identity is None:
            user = get_user_model().objects.create_user(username_for(claims), email=claims.get("email") or "")
            user.set_unusable_password()
            user.save(update_fields=["password"])
            identity = SignInIdentity.objects.create(
                user=user, issuer=settings.OIDC_ISSUER, subject=claims["sub"]
            )
            audit.record(
                "user.create",
                user,
                actor=ACTOR,
                after={"username": user.username, "signed_in_with": settings.OIDC_PROVIDER_NAME},
            )
        else:
            user = identity.user
            identity.last_sign_in_at = timezone.now()
            identity.save(update_fields=["last_sign_in_at"])
        set_roles(user, roles, actor=ACTOR)
    return user
