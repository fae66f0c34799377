"""Single sign-on in a real browser: the dashboard's button, the provider's own login and consent
pages (npm oidc-provider), and back to the dashboard with the role the user's group maps to."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.fixtures.oidc import configure_sso

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def sso_live(settings: Any, live_oidc_provider: Any) -> Any:
    configure_sso(settings, live_oidc_provider.issuer)
    return live_oidc_provider


def sign_in_through_the_provider(page: Any, login: str, issuer: str) -> None:
    page.goto("/login/")
    page.get_by_role("link", name="Sign in with Test IdP").click()
    page.wait_for_url(re.compile(rf"^{re.escape(issuer)}/interaction/"))
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()  # the consent page
    page.wait_for_url(re.compile(r"^http://(localhost|127\.0\.0\.1):\d+/$"))


def test_each_user_signs_in_at_the_provider_and_lands_with_their_role(
    new_page: Any, sso_live: Any, live_server: Any, screenshot: Any
) -> None:
    alice = new_page()
    sign_in_through_the_provider(alice, "alice", sso_live.issuer)
    assert alice.locator(".who").inner_text() == "alice · Release manager"
    screenshot(alice, "sso-signed-in")

    bob = new_page()
    sign_in_through_the_provider(bob, "bob", sso_live.issuer)
    assert bob.locator(".who").inner_text() == "bob · On-call"


def test_a_user_in_no_mapped_group_sees_the_no_role_page(new_page: Any, sso_live: Any) -> None:
    page = new_page()
    sign_in_through_the_provider(page, "carol", sso_live.issuer)
    assert page.get_by_role("heading", name="Your account has no role yet").is_visible()
    assert "none of your groups is mapped to a role" in page.content()
