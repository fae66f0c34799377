"""API tokens: stored only hashed, shown once, revocable by their owner or an admin, audited."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import ApiToken, AuditEvent

pytestmark = pytest.mark.django_db


def new_token(api, username="scientist", **extra) -> dict:
    response = api.post(
        "/api/v1/auth/token/", {"username": username, "password": "pw-for-tests", **extra}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_token_is_stored_hashed_and_its_key_shown_once(api, scientist):
    issued = new_token(api, name="notebook")
    stored = ApiToken.objects.get(pk=issued["id"])
    assert stored.key_hash == hashlib.sha256(issued["token"].encode()).hexdigest()
    assert issued["token"] not in str(list(ApiToken.objects.values()))
    assert issued["prefix"] == issued["token"][:11] and issued["name"] == "notebook"
    api.credentials(HTTP_AUTHORIZATION=f"Token {issued['token']}")
    listed = api.get("/api/v1/auth/tokens/").json()["results"]
    assert [t["prefix"] for t in listed] == [issued["prefix"]] and "token" not in listed[0]
    event = AuditEvent.objects.get(action="token.create")
    assert issued["token"] not in str(event.after) and event.after["prefix"] == issued["prefix"]


def test_each_sign_in_makes_a_new_token_and_both_work(api, scientist):
    first, second = new_token(api), new_token(api)
    assert first["token"] != second["token"]
    for key in (first["token"], second["token"]):
        api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        assert api.get("/api/v1/models/").status_code == 200


def test_a_token_revokes_itself_and_then_signs_in_no_more(api, scientist):
    key = new_token(api)["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.delete("/api/v1/auth/token/").status_code == 204
    refused = api.get("/api/v1/models/")
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    event = AuditEvent.objects.get(action="token.revoke")
    assert (event.before["revoked"], event.after["revoked"], event.actor_name) == (False, True, "scientist")


def test_only_the_owner_or_an_admin_revokes_a_token(api, scientist, manager, admin_user):
    victim = new_token(api)
    api.credentials(HTTP_AUTHORIZATION=f"Token {new_token(api, 'manager')['token']}")
    assert api.delete(f"/api/v1/auth/tokens/{victim['id']}/").status_code == 404  # not yours: not even listed
    api.credentials()
    api.force_authenticate(admin_user)
    assert api.delete(f"/api/v1/auth/tokens/{victim['id']}/").status_code == 204
    assert ApiToken.objects.get(pk=victim["id"]).revoked_at is not None


def test_an_expired_token_or_a_deactivated_user_signs_in_no_more(api, scientist):
    issued = new_token(api, valid_days=1)
    api.credentials(HTTP_AUTHORIZATION=f"Token {issued['token']}")
    assert api.get("/api/v1/models/").status_code == 200
    ApiToken.objects.filter(pk=issued["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.get("/api/v1/models/").status_code == 401
    fresh = new_token(api)  # the stale key in the header does not stop a sign-in by password
    scientist.is_active = False
    scientist.save()
    api.credentials(HTTP_AUTHORIZATION=f"Token {fresh['token']}")
    assert api.get("/api/v1/models/").status_code == 401


def test_the_tokens_page_makes_shows_once_and_revokes(client, scientist):
    client.force_login(scientist)
    made = client.post("/tokens/", {"name": "ci pipeline", "valid_days": "90"}).content.decode()
    token = ApiToken.objects.get(name="ci pipeline")
    assert "copy it now" in made and token.prefix in made
    assert "copy it now" not in client.get("/tokens/").content.decode()
    client.post(f"/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_an_admin_revokes_tokens_from_the_admin(admin_client, scientist, api):
    issued = new_token(api)
    response = admin_client.post(
        "/admin/dashboard/apitoken/", {"action": "revoke", "_selected_action": [issued["id"]]}
    )
    assert response.status_code == 302
    assert ApiToken.objects.get(pk=issued["id"]).revoked_at is not None
    assert AuditEvent.objects.filter(action="token.revoke", actor_name="admin").exists()
