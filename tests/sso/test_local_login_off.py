"""LOCAL_LOGIN=false: no password sign-in anywhere (login form, admin, token endpoint), with a
message that says what to do instead; API tokens already issued keep working."""

from __future__ import annotations

from typing import Any

import pytest

from core import tokens
from tests.sso.helpers import sign_in

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests"


@pytest.fixture
def local_login_off(settings: Any, sso: Any) -> None:
    settings.LOCAL_LOGIN = False
    # As config/settings.py has it with LOCAL_LOGIN=false: no password backend at all.
    settings.AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "core.sso.OIDCBackend"]


def test_the_login_page_offers_only_single_sign_on(client: Any, local_login_off: None) -> None:
    page = client.get("/login/?next=/models/").content.decode()
    assert "Sign in with Test IdP" in page and 'href="/sso/start/?next=/models/"' in page
    assert 'name="password"' not in page


def test_the_login_page_shows_both_while_local_login_is_on(client: Any, sso: Any) -> None:
    page = client.get("/login/").content.decode()
    assert "Sign in with Test IdP" in page and 'name="password"' in page


def test_a_password_posted_to_the_login_page_is_refused(
    client: Any, local_login_off: None, scientist: Any
) -> None:
    response = client.post("/login/", {"username": "scientist", "password": PASSWORD})
    assert response.status_code == 403
    assert "Sign-in with a password is turned off here: sign in with Test IdP." in response.content.decode()
    assert client.get("/").status_code == 302


def test_the_admin_login_sends_people_to_ours(client: Any, local_login_off: None) -> None:
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=%2Fadmin%2F"


def test_the_token_endpoint_refuses_a_password_and_says_what_to_do(
    api: Any, local_login_off: None, scientist: Any
) -> None:
    response = api.post("/api/v1/auth/token/", {"username": "scientist", "password": PASSWORD})
    assert response.status_code == 403
    assert response.json()["code"] == "local_login_off"
    assert "Create a token on the API tokens page" in response.json()["detail"]


def test_tokens_issued_before_keep_working(api: Any, local_login_off: None, scientist: Any) -> None:
    _, key = tokens.issue(scientist, name="ci", actor=scientist)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/models/").status_code == 200


def test_no_password_backend_is_left(local_login_off: None, scientist: Any) -> None:
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    assert authenticate(RequestFactory().post("/login/"), username="scientist", password=PASSWORD) is None


def test_single_sign_on_still_signs_in_and_permissions_work(client: Any, local_login_off: None) -> None:
    sign_in(client, "alice")
    assert client.get("/approvals/").status_code == 200
