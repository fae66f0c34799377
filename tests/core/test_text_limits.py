"""Free text has a size limit: a description, note, comment, reason or name that is too long is a 400
naming the field in the API, and a form error (or a refusal) on the pages; nothing is saved."""

from __future__ import annotations

import pytest

from builds.models import Application
from core.limits import DESCRIPTION_MAX_LENGTH, NOTE_MAX_LENGTH
from models_registry.models import RegisteredModel
from releases.models import Approval, Environment, Release
from tests.releases.helpers import candidate, environment, mark_succeeded

pytestmark = pytest.mark.django_db
LONG_DESCRIPTION = "d" * (DESCRIPTION_MAX_LENGTH + 1)
LONG_NOTE = "n" * (NOTE_MAX_LENGTH + 1)


def assert_refused(response, field: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body["errors"], body
    assert body["detail"].startswith(f"{field}:")


def test_a_model_description_that_is_too_long_is_refused(api, scientist):
    api.force_authenticate(scientist)
    response = api.post("/api/v1/models/", {"name": "fraud", "description": LONG_DESCRIPTION}, format="json")
    assert_refused(response, "description")
    assert not RegisteredModel.objects.exists()


def test_an_application_description_or_webhook_secret_that_is_too_long_is_refused(api, manager, application):
    api.force_authenticate(manager)
    url = f"/api/v1/applications/{application.name}/"
    assert_refused(api.patch(url, {"description": LONG_DESCRIPTION}, format="json"), "description")
    assert_refused(api.patch(url, {"webhook_secret": "s" * 201}, format="json"), "webhook_secret")
    application.refresh_from_db()
    assert (application.description, application.webhook_secret) == ("", "s3cret")


@pytest.mark.parametrize(
    ("body", "field"),
    [({"application": "a" * 101}, "application")],
)
def test_a_build_request_naming_a_too_long_application_is_refused(api, manager, body, field):
    api.force_authenticate(manager)
    assert_refused(api.post("/api/v1/builds/", body, format="json"), field)


def test_a_previous_environment_name_that_is_too_long_is_refused(api, manager, application):
    api.force_authenticate(manager)
    body = {"application": application.name, "name": "prod", "previous_environment": "p" * 41}
    assert_refused(api.post("/api/v1/environments/", body, format="json"), "previous_environment")
    assert not Environment.objects.exists()


def test_a_token_request_with_a_too_long_user_name_is_refused(api):
    response = api.post("/api/v1/auth/token/", {"username": "u" * 151, "password": "x"}, format="json")
    assert_refused(response, "username")


@pytest.fixture
def waiting_release(application, manager, scientist):
    staging = environment(application, actor=manager)
    image = candidate(application, application.model.versions.get(), "one")
    from releases import services

    return services.request_release(staging, image=image, actor=scientist)


@pytest.mark.parametrize(
    ("action", "field"), [("approve", "comment"), ("reject", "comment"), ("cancel", "comment")]
)
def test_a_release_comment_that_is_too_long_is_refused(api, manager, waiting_release, action, field):
    api.force_authenticate(manager)
    response = api.post(f"/api/v1/releases/{waiting_release.pk}/{action}/", {field: LONG_NOTE}, format="json")
    assert_refused(response, field)
    waiting_release.refresh_from_db()
    assert waiting_release.state == Release.State.REQUESTED


def test_a_release_note_that_is_too_long_is_refused_in_the_form(client, scientist, application, manager):
    staging = environment(application, actor=manager)
    build = candidate(application, application.model.versions.get(), "one").builds.get()
    client.force_login(scientist)
    fields = {"build": f"#{build.pk}", "note": LONG_NOTE}
    response = client.post(f"/environments/{staging.pk}/", fields)
    assert "Ensure this value has at most 2000 characters" in response.content.decode()
    assert not Release.objects.exists()


def test_a_comment_that_is_too_long_on_the_release_page_is_refused(client, manager, waiting_release):
    client.force_login(manager)
    client.post(f"/releases/{waiting_release.pk}/approve/", {"comment": LONG_NOTE})
    assert not Approval.objects.exists()
    waiting_release.refresh_from_db()
    assert waiting_release.state == Release.State.REQUESTED


def test_a_rollback_reason_that_is_too_long_on_the_environment_page_is_refused(
    client, oncall, application, manager
):
    staging = environment(application, actor=manager)
    from releases import services

    version = application.model.versions.get()
    for name in ("one", "two"):
        mark_succeeded(
            services.request_release(staging, image=candidate(application, version, name), actor=manager)
        )
    client.force_login(oncall)
    client.post(f"/environments/{staging.pk}/rollback/", {"reason": LONG_NOTE})
    assert not Release.objects.filter(kind=Release.Kind.ROLLBACK).exists()


def test_a_model_description_that_is_too_long_is_refused_in_the_form(client, scientist):
    client.force_login(scientist)
    response = client.post("/models/", {"name": "fraud", "description": LONG_DESCRIPTION})
    assert response.status_code == 200  # the form again, whose text area holds at most the limit
    assert 'maxlength="10000"' in response.content.decode()
    assert not RegisteredModel.objects.exists()


def test_an_application_description_that_is_too_long_is_a_form_error(client, manager, churn_model):
    client.force_login(manager)
    fields = {
        "name": "app",
        "repository_url": "/srv/app",
        "default_branch": "main",
        "image_repository": "app",
        "model": churn_model.name,
        "description": LONG_DESCRIPTION,
    }
    response = client.post("/applications/", fields)
    assert "Ensure this value has at most 10000 characters" in response.content.decode()
    assert not Application.objects.exists()
