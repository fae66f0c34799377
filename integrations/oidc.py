"""Where an OpenID Connect provider has its endpoints: read from its discovery document.

Reference: OpenID Connect Discovery 1.0, section 4
(https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig). For Microsoft Entra
ID the issuer is ``https://login.microsoftonline.com/<tenant>/v2.0``
(https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc).

The document is read once per process, at the first sign-in (never at import and never in any
other request), and the endpoints given explicitly win over it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import requests

from integrations.errors import PermanentError, TemporaryError

SYSTEM = "OpenID provider"


@dataclass(frozen=True)
class Endpoints:
    issuer: str
    authorization: str
    token: str
    jwks: str
    userinfo: str = ""


_lock = threading.Lock()
_discovered: dict[str, Endpoints] = {}


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def discover(issuer: str, *, timeout: float) -> Endpoints:
    """The endpoints the provider publishes; the document must name ``issuer`` exactly."""
    url = discovery_url(issuer)
    try:
        response = requests.get(url, timeout=timeout, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise TemporaryError(f"{url} did not answer ({type(exc).__name__})", system=SYSTEM) from exc
    if response.status_code >= 500:
        raise TemporaryError(f"{url} answered {response.status_code}", system=SYSTEM)
    if response.status_code != 200:
        raise PermanentError(f"{url} answered {response.status_code}", system=SYSTEM)
    try:
        document = response.json()
        named = document["issuer"]
        endpoints = Endpoints(
            issuer=named,
            authorization=document["authorization_endpoint"],
            token=document["token_endpoint"],
            jwks=document["jwks_uri"],
            userinfo=document.get("userinfo_endpoint") or "",
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise PermanentError(f"{url} is not a discovery document (missing {exc})", system=SYSTEM) from exc
    if named != issuer:
        raise PermanentError(f"{url} names the issuer {named!r}, not {issuer!r}", system=SYSTEM)
    return endpoints


def endpoints(
    issuer: str,
    *,
    authorization: str = "",
    token: str = "",
    jwks: str = "",
    userinfo: str = "",
    timeout: float,
) -> Endpoints:
    """The endpoints to use: the explicit ones, the rest from discovery (read once, then kept)."""
    if authorization and token and jwks:
        return Endpoints(issuer, authorization, token, jwks, userinfo)
    with _lock:
        found = _discovered.get(issuer)
        if found is None:
            found = _discovered[issuer] = discover(issuer, timeout=timeout)
    return Endpoints(
        issuer,
        authorization or found.authorization,
        token or found.token,
        jwks or found.jwks,
        userinfo or found.userinfo,
    )


def forget_discovered() -> None:
    """Drop what discovery found (tests; a process restart does the same)."""
    with _lock:
        _discovered.clear()
