"""Inputs found by fuzzing the API: each gets a 4xx with a JSON body, never a 500."""

from __future__ import annotations

import pytest

from models_registry import services as model_services

pytestmark = pytest.mark.django_db
HUGE = "99999999999999999999"


@pytest.fixture
def as_admin(api, admin_user, scientist):
    model_services.create_model("churn", actor=scientist)
    api.force_authenticate(admin_user)
    return api


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/releases/?environment={HUGE}",
        "/api/v1/releases/?environment=%C2%B2",
        "/api/v1/images/?model_version=%C2%B2",
    ],
)
def test_ids_in_the_query_string_must_be_numbers(as_admin, url):
    response = as_admin.get(url)
    assert response.status_code == 400
    assert "whole number" in response.json()["detail"]


@pytest.mark.parametrize(
    "url",
    [f"/api/v1/builds/{HUGE}/", f"/api/v1/environments/{HUGE}/freeze-windows/1/", f"/api/v1/jobs/{HUGE}/"],
)
def test_ids_too_long_for_the_database_are_404(as_admin, url):
    response = as_admin.get(url) if "freeze" not in url else as_admin.delete(url)
    assert response.status_code == 404
    assert response.json()["detail"]


def test_a_freeze_window_longer_than_a_year_is_refused(as_admin, application, manager):
    from releases import services
    from releases.models import FreezeWindow

    env = services.create_environment(
        {"application": application, "name": "staging", "target_config": {"port": 18001}}, actor=manager
    )
    body = {"reason": "x", "cron": "0 1 * * *", "duration_minutes": 9223372036854775807, "timezone": "UTC"}
    response = as_admin.post(f"/api/v1/environments/{env.pk}/freeze-windows/", body, format="json")
    assert response.status_code == 400
    assert "duration_minutes" in response.json()["detail"]
    assert not FreezeWindow.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/builds/?commit=ab%00cd",
        "/api/v1/builds/?application=a%00",
        "/api/v1/builds/?state=%00",
        "/api/v1/images/?digest=sha256:%00",
        "/api/v1/images/?model=m%00",
        "/api/v1/releases/?application=a%00",
        "/api/v1/releases/?state=%00",
        "/api/v1/environments/?application=a%00",
        "/api/v1/jobs/?status=%00",
    ],
)
def test_a_nul_in_a_text_filter_is_a_400_not_a_database_error(as_admin, url):
    response = as_admin.get(url)
    assert response.status_code == 400
    assert "must not contain NUL characters" in response.json()["detail"]


def test_a_nul_in_the_application_forms_model_name_is_a_form_error(client, admin_user, churn_model):
    client.force_login(admin_user)
    fields = {
        "name": "app",
        "repository_url": "/srv/app",
        "image_repository": "app",
        "model": "churn-model\x00",
    }
    response = client.post("/applications/", fields)
    assert response.status_code == 200
    assert "No registered model has this name." in response.content.decode()


@pytest.mark.parametrize("url", ["/api/v1/models/", "/api/v1/models/churn/", "/api/v1/jobs/"])
def test_an_unknown_format_is_a_400_naming_it_not_a_404(as_admin, url):
    response = as_admin.get(f"{url}?format=false")
    assert response.status_code == 400
    assert response.json()["field"] == "format"
    assert as_admin.get(f"{url}?format=json").status_code == 200
