from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from core.models import AuditEvent
from models_registry.models import ModelVersion

pytestmark = pytest.mark.django_db


def test_createuser_gives_the_role_and_prints_the_password(capsys):
    call_command("createuser", "ada", "--role", "data-scientist")
    out = capsys.readouterr().out
    password = out.strip().rsplit(" ", 1)[-1]
    user = get_user_model().objects.get(username="ada")
    assert user.check_password(password)
    assert [g.name for g in user.groups.all()] == ["Data scientist"]
    assert user.has_perm("models_registry.add_modelversion")
    assert not user.has_perm("models_registry.nonexistent")
    assert AuditEvent.objects.filter(action="user.create", object_repr="ada").exists()


def test_createuser_changes_the_role_of_an_existing_user():
    call_command("createuser", "bob", "--role", "data-scientist", "--password", "ocean-violin-7421")
    call_command("createuser", "bob", "--role", "on-call", "--password", "ocean-violin-7422")
    user = get_user_model().objects.get(username="bob")
    assert [g.name for g in user.groups.all()] == ["On-call"]
    assert not user.has_perm("models_registry.add_modelversion")
    event = AuditEvent.objects.get(action="user.update")
    assert event.before == {"roles": ["Data scientist"]}


def test_createuser_admin_is_a_superuser():
    call_command("createuser", "root2", "--role", "admin", "--password", "ocean-violin-7421")
    assert get_user_model().objects.get(username="root2").is_superuser


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("x", "too short"),
        ("password1234", "too common"),
        ("918273645546", "entirely numeric"),
        ("carolinemartins1", "too similar"),
    ],
)
def test_createuser_refuses_a_weak_password(password, why):
    with pytest.raises(CommandError, match=f"The password is refused: .*{why}"):
        call_command("createuser", "carolinemartins", "--role", "on-call", "--password", password)
    assert not get_user_model().objects.filter(username="carolinemartins").exists()


def test_createuser_refuses_an_unknown_role():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("createuser", "eve", "--role", "wizard")


def test_seed_demo_uses_demo_password_and_registers_the_sample_model(settings, capsys):
    settings.DEMO_PASSWORD = "demo-pass"
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "demo-pass" in out
    users = get_user_model().objects
    for name in ("scientist", "manager", "manager2", "oncall"):
        assert users.get(username=name).check_password("demo-pass")
    assert ModelVersion.objects.filter(model__name="churn-model", version=1).exists()
    call_command("seed_demo")  # a second start changes nothing but the passwords
    assert ModelVersion.objects.count() == 1


def test_seed_demo_prints_a_random_password_when_none_is_set(settings, capsys):
    settings.DEMO_PASSWORD = ""
    call_command("seed_demo")
    password = capsys.readouterr().out.strip().rsplit(" ", 1)[-1]
    assert len(password) >= 10
    assert get_user_model().objects.get(username="manager2").check_password(password)


def test_createtoken_prints_a_key_that_signs_in(api, scientist, capsys):
    call_command("createtoken", "scientist", "--for", "ci", "--days", "30")
    key = capsys.readouterr().out.strip()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/models/").status_code == 200
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("createtoken", "nobody")


def test_the_openapi_schema_lists_the_registry_endpoints(api, scientist):
    api.force_authenticate(scientist)
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/models/{name}/versions/" in paths
    assert "/api/v1/models/{name}/versions/{number}/download/" in paths
    assert api.get("/api/docs/").status_code == 200


def test_the_openapi_schema_is_valid_and_complete(tmp_path):
    """Every endpoint documents its request and answer: no schema warnings or errors."""
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--file", str(target), "--validate", "--fail-on-warn")
    text = target.read_text()
    for path in (
        "/api/v1/builds/",
        "/api/v1/images/",
        "/api/v1/releases/{id}/approve/",
        "/api/v1/schedules/",
    ):
        assert f"  {path}:" in text
