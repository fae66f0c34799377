"""Brute force on the login page and the token endpoint: locked out, rate limited, audited."""

from __future__ import annotations

import pytest

from core.models import AuditEvent

pytestmark = pytest.mark.django_db


def sign_in(client, password: str, username: str = "manager", address: str = "10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def get_token(api, password: str, username: str = "manager", address: str = "10.0.0.1"):
    return api.post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=address,
    )


def test_the_login_page_locks_a_user_name_and_address_out_after_repeated_failures(client, manager, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "wrong").status_code == 200  # the form again, with its error
    locked = sign_in(client, "wrong")
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.content.decode()
    assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert sign_in(client, "pw-for-tests").status_code == 429  # even the right password, for now
    assert sign_in(client, "pw-for-tests", address="10.0.0.2").status_code == 302  # not another address
    event = AuditEvent.objects.get(action="auth.locked_out")
    assert event.after == {
        "username": "manager",
        "ip_address": "10.0.0.1",
        "failures": settings.AXES_FAILURE_LIMIT,
    }


def test_the_token_endpoint_locks_out_with_a_json_reason(api, manager, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert get_token(api, "wrong").status_code == 400
    locked = get_token(api, "wrong")
    assert locked.status_code == 429
    assert (
        locked.json()["code"] == "too_many_attempts" and "try again in 15 minutes" in locked.json()["detail"]
    )
    assert get_token(api, "pw-for-tests").status_code == 429
    assert "token" in get_token(api, "pw-for-tests", address="10.0.0.9").json()


def test_one_address_trying_many_user_names_is_rate_limited(api, client, settings):
    settings.SIGN_IN_RATE = "6/min"
    answers = [get_token(api, "x", username=f"user{i}").status_code for i in range(4)]
    answers += [sign_in(client, "x", username=f"user{i}").status_code for i in range(4)]
    assert answers == [400, 400, 400, 400, 200, 200, 429, 429]
    limited = sign_in(client, "x", username="user9")
    assert (
        "Too many sign-in attempts from your address" in limited.content.decode() and limited["Retry-After"]
    )
    assert get_token(api, "x", username="user9", address="10.0.0.7").status_code == 400  # others still may


def test_a_successful_sign_in_resets_the_count(client, manager, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "wrong")
    assert sign_in(client, "pw-for-tests").status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "wrong").status_code == 200
