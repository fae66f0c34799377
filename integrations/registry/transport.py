"""HTTP for the OCI distribution API: authentication challenges and error mapping.

Auth follows the Docker token protocol that every major registry implements
(https://distribution.github.io/distribution/spec/auth/token/ and
https://distribution.github.io/distribution/spec/auth/oauth/): a request answered 401 with
``WWW-Authenticate: Bearer realm=…,service=…,scope=…`` is retried with a token fetched from
``realm`` for that scope (Basic credentials or a refresh token); ``Basic`` challenges get the
configured user and password. Tokens are cached per scope, because a pull token does not
allow a push.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests

from integrations.errors import (
    NotFound,
    PermanentError,
    TemporaryError,
    Unauthorized,
)

DEFAULT_TIMEOUT = (10.0, 300.0)  # connect, read: blobs are big and registries can be slow
CHALLENGE_PARAM_RE = re.compile(r'(\w+)="([^"]*)"')

# A refresh-token source: called with force=True when the last token it gave was rejected.
RefreshTokenSource = Callable[[bool], str]


@dataclass(frozen=True)
class Challenge:
    scheme: str
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge | None:
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    return Challenge(scheme.lower(), dict(CHALLENGE_PARAM_RE.findall(rest)))


def _error_detail(response: requests.Response) -> str:
    """The registry's own error codes and messages, for a message a user can act on."""
    try:
        errors = response.json().get("errors") or []
        text = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ") for e in errors)
    except (ValueError, AttributeError):
        text = response.text[:200].strip()
    return text or response.reason or ""


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.replace(".", "", 1).isdigit() else None


def raise_for_status(response: requests.Response, what: str, system: str) -> None:
    """Map an HTTP failure to our errors (401/403, 404, 429/5xx, other 4xx)."""
    status = response.status_code
    if status < 400:
        return
    detail = f"{what}: HTTP {status} {_error_detail(response)}".strip()
    if status in (401, 403):
        raise Unauthorized(f"{detail} (check the registry credentials and their permissions)", system=system)
    if status == 404:
        raise NotFound(detail, system=system)
    if status == 429 or status >= 500:
        raise TemporaryError(detail, system=system, retry_after=_retry_after(response))
    raise PermanentError(detail, system=system)


class RegistryTransport:
    """A ``requests`` session that answers auth challenges for one registry."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str = "",
        password: str = "",
        refresh_token: RefreshTokenSource | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        system: str = "container registry",
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.username, self.password = username, password
        self.refresh_token = refresh_token
        self.timeout = timeout
        self.system = system
        self.session = requests.Session()
        self._tokens: dict[str, str] = {}  # scope -> bearer token
        self._basic = False  # the registry asked for Basic auth: send it up front from now on

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path)

    def _auth_headers(self, scope: str) -> dict[str, str]:
        if scope in self._tokens:
            return {"Authorization": f"Bearer {self._tokens[scope]}"}
        if self._basic and self.username:
            basic = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return {"Authorization": f"Basic {basic}"}
        return {}

    def _send(self, method: str, url: str, headers: dict[str, str], **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TemporaryError(f"cannot reach {self.base_url}: {exc}", system=self.system) from exc
        except requests.RequestException as exc:
            raise PermanentError(f"request to {url} failed: {exc}", system=self.system) from exc

    def request(
        self,
        method: str,
        path: str,
        *,
        scope: str,
        what: str,
        headers: dict[str, str] | None = None,
        body: Callable[[], Any] | None = None,
        ok_404: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        """Send once; on a 401 challenge authenticate for its scope and send once more.

        ``body`` is a factory so a streamed upload can be reopened for the retry.
        ``scope`` names the access the call needs (``repository:team/app:pull``), the key
        under which its token is cached.
        """
        url = self.url(path)
        for attempt in range(2):
            all_headers = {**(headers or {}), **self._auth_headers(scope)}
            data = body() if body else None
            response = self._send(method, url, all_headers, data=data, **kwargs)
            if response.status_code != 401 or attempt == 1:
                break
            challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
            response.close()
            if challenge is None or not self._authenticate(challenge, scope):
                break
        if response.status_code == 404 and ok_404:
            return response
        if response.status_code >= 400:
            response.close()
        raise_for_status(response, what, self.system)
        return response

    def _authenticate(self, challenge: Challenge, scope: str) -> bool:
        """Prepare credentials for a retry; False when nothing new can be tried."""
        if challenge.scheme == "basic":
            if not self.username or self._basic:
                return False
            self._basic = True
            return True
        if challenge.scheme != "bearer" or "realm" not in challenge.params:
            return False
        self._tokens[scope] = self._fetch_token(challenge.params, challenge.params.get("scope", scope))
        return True

    def _fetch_token(self, params: dict[str, str], scope: str) -> str:
        """Get a bearer token from the challenge's realm.

        https://distribution.github.io/distribution/spec/auth/token/#requesting-a-token (GET,
        Basic) and https://distribution.github.io/distribution/spec/auth/oauth/ (POST refresh_token).
        """
        realm, service = params["realm"], params.get("service", "")
        form = {"service": service, **({"scope": scope} if scope else {})}
        if self.refresh_token is not None:
            for force in (False, True):  # a stale cached refresh token gets one fresh try
                response = self._send(
                    "POST",
                    realm,
                    {},
                    data={**form, "grant_type": "refresh_token", "refresh_token": self.refresh_token(force)},
                )
                if response.status_code != 401:
                    break
        else:
            auth = (self.username, self.password) if self.username else None
            response = self._send("GET", realm, {}, params=form, auth=auth)
        raise_for_status(response, f"token request to {realm}", self.system)
        try:
            payload = response.json()
            return payload.get("token") or payload["access_token"]
        except (ValueError, KeyError, AttributeError) as exc:
            raise PermanentError(f"token endpoint {realm} gave no token", system=self.system) from exc
