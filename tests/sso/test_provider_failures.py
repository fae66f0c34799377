"""A provider that fails at the token exchange or at its keys (JWKS) - refusing, hanging or
answering 5xx - gives a page saying so within ``OIDC_TIMEOUT``, never a 500 or a hang, and
nobody is signed in. The provider is faked at the wire: an HTTP server with fixed answers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model

from tests.fixtures.oidc import configure_sso
from tests.sso.helpers import start
from tests.support.http_server import serving
from tests.support.silent_server import SilentServer

pytestmark = pytest.mark.django_db
ISSUER = "http://127.0.0.1:9/never-contacted"  # every endpoint is given: no discovery
# Any JWT-shaped token: the keys are fetched before it is looked at.
ID_TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3Qta2V5In0.e30.c2ln"


@contextmanager
def provider(answers: dict[str, tuple[int, Any]]) -> Iterator[str]:
    """A provider answering each path with a fixed (status, JSON body or raw bytes); its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            status, body = answers.get(urlsplit(self.path).path, (404, {}))
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = answer

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as server:
        yield server.url


def come_back_with_a_code(client: Any, settings: Any, *, token: str, jwks: str) -> tuple[Any, float]:
    configure_sso(
        settings,
        ISSUER,
        OIDC_TIMEOUT=1,
        OIDC_OP_AUTHORIZATION_ENDPOINT=f"{ISSUER}/auth",
        OIDC_OP_TOKEN_ENDPOINT=token,
        OIDC_OP_JWKS_ENDPOINT=jwks,
    )
    state = parse_qs(urlsplit(start(client)).query)["state"][0]
    began = time.monotonic()
    response = client.get("/sso/callback/", {"state": state, "code": "a-code"})
    return response, time.monotonic() - began


def assert_page(response: Any, client: Any, reason: str, status: int) -> None:
    assert response.status_code == status, response.content[:300]
    text = response.content.decode()
    assert "Sign-in refused" in text and reason in text, text
    assert get_user_model().objects.count() == 0
    assert client.get("/").status_code == 302  # still signed out


GOOD_TOKEN = (200, {"id_token": ID_TOKEN, "access_token": "at", "token_type": "Bearer"})


def test_a_token_exchange_answering_503_says_to_try_again(client: Any, settings: Any) -> None:
    with provider({"/token": (503, {"error": "temporarily_unavailable"})}) as base:
        response, _ = come_back_with_a_code(client, settings, token=f"{base}/token", jwks=f"{base}/jwks")
    assert_page(response, client, "Test IdP is having trouble (HTTP 503); try again later.", 502)


def test_a_token_exchange_refusing_the_code_is_shown(client: Any, settings: Any) -> None:
    with provider({"/token": (400, {"error": "invalid_grant"})}) as base:
        response, _ = come_back_with_a_code(client, settings, token=f"{base}/token", jwks=f"{base}/jwks")
    assert_page(response, client, "Test IdP refused to complete the sign-in; start again.", 403)


def test_a_token_exchange_that_hangs_gives_up_after_the_timeout(client: Any, settings: Any) -> None:
    with SilentServer() as silent, provider({}) as base:
        token = f"http://127.0.0.1:{silent.port}/token"
        response, took = come_back_with_a_code(client, settings, token=token, jwks=f"{base}/jwks")
    assert_page(response, client, "Test IdP did not answer in time (ReadTimeout); try again.", 502)
    assert took < 5


def test_keys_answering_500_say_to_try_again(client: Any, settings: Any) -> None:
    with provider({"/token": GOOD_TOKEN, "/jwks": (500, {})}) as base:
        response, _ = come_back_with_a_code(client, settings, token=f"{base}/token", jwks=f"{base}/jwks")
    assert_page(response, client, "Test IdP is having trouble (HTTP 500); try again later.", 502)


def test_keys_that_hang_give_up_after_the_timeout(client: Any, settings: Any) -> None:
    with SilentServer() as silent, provider({"/token": GOOD_TOKEN}) as base:
        jwks = f"http://127.0.0.1:{silent.port}/jwks"
        response, took = come_back_with_a_code(client, settings, token=f"{base}/token", jwks=jwks)
    assert_page(response, client, "Test IdP did not answer in time (ReadTimeout); try again.", 502)
    assert took < 5


def test_keys_that_are_not_json_are_refused(client: Any, settings: Any) -> None:
    with provider({"/token": GOOD_TOKEN, "/jwks": (200, ["not", "a", "key", "set"])}) as base:
        response, _ = come_back_with_a_code(client, settings, token=f"{base}/token", jwks=f"{base}/jwks")
    assert_page(response, client, "the provider&#x27;s keys (JWKS) could not be read", 403)


def test_a_provider_refusing_connections_at_the_token_exchange_is_a_page(client: Any, settings: Any) -> None:
    with provider({}) as base:
        pass  # stopped: its port now refuses connections
    response, _ = come_back_with_a_code(client, settings, token=f"{base}/token", jwks=f"{base}/jwks")
    assert_page(response, client, "Test IdP did not answer in time (ConnectionError); try again.", 502)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (["a", "list"], "the provider&#x27;s token answer is not a JSON object."),
        ("a string", "the provider&#x27;s token answer is not a JSON object."),
        (b"<html>Gateway</html>", "the provider&#x27;s token answer is not JSON."),
    ],
)
def test_a_token_answer_that_is_no_json_object_is_refused(
    client: Any, settings: Any, body: Any, reason: str
) -> None:
    with provider({"/token": (200, body)}) as base:
        response, _ = come_back_with_a_code(client, settings, token=f"{base}/token", jwks=f"{base}/jwks")
    assert_page(response, client, reason, 403)
