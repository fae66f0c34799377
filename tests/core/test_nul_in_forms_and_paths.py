"""A NUL character sent in a form field or in a name in the path never reaches the database, where
PostgreSQL refuses it (a 500): a form field is a 400 naming it, a path is a 404 (found by the fuzzer)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from models_registry.models import ModelVersion
from releases.models import Environment
from tests.releases.helpers import environment

pytestmark = pytest.mark.django_db


def test_a_nul_in_a_form_encoded_field_is_a_400_naming_it(api, manager, application):
    staging = environment(application, actor=manager)
    api.force_authenticate(manager)
    response = api.generic(
        "PUT",
        f"/api/v1/environments/{staging.pk}/",
        "application=a%00b&order=3",
        "application/x-www-form-urlencoded",
    )
    assert response.status_code == 400, response.content
    assert "application contains a NUL character" in response.json()["detail"]
    assert Environment.objects.get().order == 0


def test_a_nul_in_a_field_name_is_a_400(api, scientist):
    api.force_authenticate(scientist)
    response = api.generic(
        "POST", "/api/v1/models/", "name=churn&x%00=1", "application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert "NUL character" in response.json()["detail"]


def test_a_nul_in_a_multipart_field_is_a_400_naming_it(api, scientist, churn_model):
    api.force_authenticate(scientist)
    response = api.post(
        f"/api/v1/models/{churn_model.name}/versions/",
        {"file": SimpleUploadedFile("m.bin", b"other weights"), "framework": "sk\x00learn"},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    assert "framework contains a NUL character" in response.json()["detail"]
    assert ModelVersion.objects.count() == 1


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/models/churn%00/",
        "/api/v1/models/churn%00/versions/",
        "/api/v1/models/churn%00/versions/1/download/",
        "/api/v1/applications/app%00/",
        "/api/v1/webhooks/github/app%00/",
    ],
)
def test_a_nul_in_a_name_in_an_api_path_is_a_404(api, admin_user, url):
    api.force_authenticate(admin_user)
    response = api.get(url) if "webhooks" not in url else api.post(url, {}, format="json")
    assert response.status_code == 404
    assert response.json()["detail"]


@pytest.mark.parametrize("url", ["/models/churn%00/", "/applications/app%00/"])
def test_a_nul_in_a_name_in_a_page_path_is_a_404(client, admin_user, url):
    client.force_login(admin_user)
    assert client.get(url).status_code == 404
