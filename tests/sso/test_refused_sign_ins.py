"""A sign-in whose answer does not check out is refused with a page that says why (never a 500),
and nobody is created or signed in. Each case goes through a real provider."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.contrib.auth import get_user_model

from tests.fixtures.oidc import TEST_CLIENT_REDIRECT, OpenIDProvider, configure_sso
from tests.sso.helpers import come_back, provider_answer, sign_in, start

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def provider_with_its_own_key_id(provider_factory: Callable[..., OpenIDProvider]) -> OpenIDProvider:
    return provider_factory([TEST_CLIENT_REDIRECT], kid="another-key")


@pytest.fixture(scope="module")
def provider_with_another_key(provider_factory: Callable[..., OpenIDProvider]) -> OpenIDProvider:
    """Publishes its own key under the same key id as ``oidc_provider``."""
    return provider_factory([TEST_CLIENT_REDIRECT])


@pytest.fixture(scope="module")
def provider_fifteen_minutes_late(provider_factory: Callable[..., OpenIDProvider]) -> OpenIDProvider:
    """Its clock is 15 minutes behind: its ID tokens (10 minutes) expired 5 minutes ago."""
    return provider_factory([TEST_CLIENT_REDIRECT], clock_skew=-900)


def endpoints_of(provider: OpenIDProvider, *, jwks_from: OpenIDProvider | None = None) -> dict[str, str]:
    return {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{provider.issuer}/auth",
        "OIDC_OP_TOKEN_ENDPOINT": f"{provider.issuer}/token",
        "OIDC_OP_USER_ENDPOINT": f"{provider.issuer}/me",
        "OIDC_OP_JWKS_ENDPOINT": f"{(jwks_from or provider).issuer}/jwks",
    }


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()} | changes
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"


def assert_refused(response: Any, client: Any, reason: str, status: int = 403) -> None:
    assert response.status_code == status, response.content[:300]
    text = response.content.decode()
    assert "Sign-in refused" in text and reason in text, text
    assert get_user_model().objects.count() == 0
    assert client.get("/").status_code == 302  # still signed out: the home page sends to the login


def test_a_wrong_state_is_refused(client: Any, sso: Any) -> None:
    answer = provider_answer(client, "alice")
    response = come_back(client, with_query(answer, state="not-the-one-we-sent"))
    assert_refused(response, client, "does not belong to a sign-in this browser started", 400)


def test_an_answer_used_twice_is_refused(client: Any, sso: Any) -> None:
    answer = provider_answer(client, "alice")
    assert come_back(client, answer).status_code == 302
    client.logout()
    get_user_model().objects.all().delete()

    assert_refused(come_back(client, answer), client, "unknown or used state", 400)


def test_another_nonce_is_refused(client: Any, sso: Any) -> None:
    answer = provider_answer(client, "alice")
    state = parse_qs(urlsplit(answer).query)["state"][0]
    session = client.session
    session["oidc_states"][state]["nonce"] = "a-nonce-of-another-sign-in"
    session.save()

    assert_refused(come_back(client, answer), client, "Nonce verification failed")


def test_the_answer_to_another_started_sign_in_is_refused(client: Any, sso: Any) -> None:
    """Two sign-ins started in one browser: the code of one does not go with the other's state
    (its PKCE verifier and nonce are the other one's)."""
    answer = provider_answer(client, "alice")
    other_state = parse_qs(urlsplit(start(client)).query)["state"][0]

    response = come_back(client, with_query(answer, state=other_state))

    assert_refused(response, client, "refused to complete the sign-in")


def test_a_token_from_another_issuer_is_refused(
    client: Any, settings: Any, oidc_provider: OpenIDProvider, provider_with_its_own_key_id: OpenIDProvider
) -> None:
    configure_sso(settings, oidc_provider.issuer, **endpoints_of(provider_with_its_own_key_id))
    assert_refused(sign_in(client, "alice"), client, "the ID token comes from another issuer")


def test_a_token_signed_by_a_key_the_provider_does_not_publish_is_refused(
    client: Any, settings: Any, oidc_provider: OpenIDProvider, provider_with_its_own_key_id: OpenIDProvider
) -> None:
    other = provider_with_its_own_key_id
    configure_sso(settings, other.issuer, **endpoints_of(other, jwks_from=oidc_provider))
    assert_refused(sign_in(client, "alice"), client, "signed with a key the provider does not publish")


def test_a_signature_that_does_not_verify_is_refused(
    client: Any, settings: Any, oidc_provider: OpenIDProvider, provider_with_another_key: OpenIDProvider
) -> None:
    other = provider_with_another_key
    configure_sso(settings, other.issuer, **endpoints_of(other, jwks_from=oidc_provider))
    assert_refused(sign_in(client, "alice"), client, "signature does not match the provider&#x27;s keys")


def test_an_expired_token_is_refused(
    client: Any, settings: Any, provider_fifteen_minutes_late: OpenIDProvider
) -> None:
    configure_sso(settings, provider_fifteen_minutes_late.issuer)
    assert_refused(sign_in(client, "alice"), client, "the ID token has expired")


def test_the_provider_saying_no_is_shown(client: Any, sso: Any) -> None:
    state = parse_qs(urlsplit(start(client)).query)["state"][0]
    response = client.get(
        "/sso/callback/", {"state": state, "error": "access_denied", "error_description": "End-User aborted"}
    )
    assert_refused(response, client, "Test IdP did not sign you in: End-User aborted")


def test_an_unreachable_provider_is_a_page_not_a_500(client: Any, settings: Any) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    configure_sso(settings, f"http://127.0.0.1:{port}", OIDC_TIMEOUT=2)
    response = client.get("/sso/start/")
    assert response.status_code == 502
    assert "Test IdP cannot be reached right now" in response.content.decode()
