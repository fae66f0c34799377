"""Signing in by single sign-on with Django's test client, through the real test provider."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.fixtures.oidc import TEST_CLIENT_REDIRECT
from tests.support.oidc_login import sign_in_at_provider


def start(client: Any) -> str:
    """Press "Sign in with …": the provider's authorization URL the dashboard redirects to."""
    response = client.get("/sso/start/")
    assert response.status_code == 302, response.content[:500]
    return str(response["Location"])


def come_back(client: Any, callback_url: str) -> Any:
    """The browser arriving back at the dashboard from the provider."""
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}")


def provider_answer(client: Any, login: str) -> str:
    """Start a sign-in and sign in at the provider as ``login``: the callback URL it answers with."""
    return sign_in_at_provider(start(client), login, TEST_CLIENT_REDIRECT)


def sign_in(client: Any, login: str) -> Any:
    """The whole flow; the dashboard's answer to the callback."""
    return come_back(client, provider_answer(client, login))
