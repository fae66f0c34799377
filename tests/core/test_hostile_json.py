"""JSON that would break the parser or the database: a 400 with the reason, never a 500.

Runs on PostgreSQL and SQLite alike (PostgreSQL refuses NUL and lone surrogates in JSON and text).
"""

from __future__ import annotations

import pytest

from core import safejson
from models_registry.models import ModelVersion, RegisteredModel
from releases.models import Environment

pytestmark = pytest.mark.django_db
DEEP = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT])
def test_json_nested_a_thousand_deep_is_a_400_for_anyone(api, body):
    response = api.post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested more than 64 levels" in response.json()["detail"]


def test_json_nested_deep_is_a_400_on_a_webhook(client, application):
    response = client.post(
        f"/api/v1/webhooks/github/{application.name}/", DEEP, content_type="application/json"
    )
    assert response.status_code in (400, 401)  # refused either way: no signature, or not usable JSON
    assert response.json()["detail"]


def test_json_nested_deep_is_a_400_for_a_signed_webhook(client, application):
    import hashlib
    import hmac

    signature = "sha256=" + hmac.new(b"s3cret", DEEP.encode(), hashlib.sha256).hexdigest()
    response = client.post(
        f"/api/v1/webhooks/github/{application.name}/",
        DEEP,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=signature,
        HTTP_X_GITHUB_EVENT="push",
        HTTP_X_GITHUB_DELIVERY="d-1",
    )
    assert response.status_code == 400 and "nested more than 64 levels" in response.json()["detail"]


@pytest.mark.parametrize(
    ("target_config", "problem"),
    [
        ('{"port": 8101, "x\\u0000": 1}', "NUL character"),
        ('{"port": 8101, "health_timeout": "\\ud800"}', "lone UTF-16 surrogate"),
    ],
)
def test_nul_and_lone_surrogates_in_json_fields_are_a_400(api, manager, application, target_config, problem):
    api.force_authenticate(manager)
    body = f'{{"application": "{application.name}", "name": "prod", "target_config": {target_config}}}'
    response = api.post("/api/v1/environments/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert problem in response.json()["detail"]
    assert not Environment.objects.exists()


def test_a_lone_surrogate_in_a_choice_field_is_a_400(api, manager, application):
    api.force_authenticate(manager)
    body = f'{{"application": "{application.name}", "name": "prod", "target_kind": "\\udfff"}}'
    response = api.post("/api/v1/environments/", body, content_type="application/json")
    assert response.status_code == 400 and "surrogate" in response.json()["detail"]


@pytest.mark.parametrize("metrics", ['{"auc\\u0000": 0.9}', '{"\\ud83d": 0.9}', "[" * 500 + "]" * 500])
def test_hostile_metrics_in_a_multipart_upload_are_a_400(api, scientist, metrics):
    from django.core.files.uploadedfile import SimpleUploadedFile

    api.force_authenticate(scientist)
    RegisteredModel.objects.create(name="churn")
    response = api.post(
        "/api/v1/models/churn/versions/",
        {"file": SimpleUploadedFile("m.bin", b"weights"), "metrics": metrics},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    assert "metrics is not valid JSON" in response.json()["detail"]
    assert not ModelVersion.objects.exists()


def test_ordinary_documents_pass():
    assert safejson.loads('{"a": [1, {"b": "x\\"[[["}], "c": "\\u00e9"}') == {
        "a": [1, {"b": 'x"[[['}],
        "c": "é",
    }
