"""A request over a size limit is a 413 whose JSON body says it is too large and what the limit is:
an uploaded file over MAX_UPLOAD_BYTES, a body over DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from models_registry import services
from models_registry.models import ModelVersion, RegisteredModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_scientist(api, scientist):
    services.create_model("churn", actor=scientist)
    api.force_authenticate(scientist)
    return api


def assert_too_large(response, limit: int) -> None:
    assert response.status_code == 413, response.content
    body = response.json()
    assert (body["code"], body["limit"]) == ("too_large", limit)
    assert "larger than" in body["detail"] or "more than" in body["detail"]


def test_an_upload_over_max_upload_bytes_is_a_413_and_registers_nothing(
    as_scientist, settings, model_store_root
):
    settings.MAX_UPLOAD_BYTES = 1000
    response = as_scientist.post(
        "/api/v1/models/churn/versions/",
        {"file": SimpleUploadedFile("model.bin", b"w" * 5000)},
        format="multipart",
    )
    assert_too_large(response, 1000)
    assert "MAX_UPLOAD_BYTES" in response.json()["detail"]
    assert not ModelVersion.objects.exists()
    assert not [path for path in model_store_root.rglob("*") if path.is_file()]


def test_an_upload_at_max_upload_bytes_is_registered(as_scientist, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    response = as_scientist.post(
        "/api/v1/models/churn/versions/",
        {"file": SimpleUploadedFile("model.bin", b"w" * 1000)},
        format="multipart",
    )
    assert response.status_code == 201, response.content


def test_a_json_body_over_the_memory_limit_is_a_413(as_scientist, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    body = json.dumps({"name": "fraud", "description": "d" * 3000})
    response = as_scientist.post("/api/v1/models/", body, content_type="application/json")
    assert_too_large(response, 2000)
    assert not RegisteredModel.objects.filter(name="fraud").exists()


def test_a_form_body_over_the_memory_limit_is_a_413(as_scientist, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    response = as_scientist.post(
        "/api/v1/models/", {"name": "fraud", "description": "d" * 3000}, format="json"
    )
    assert_too_large(response, 2000)
    response = as_scientist.generic(
        "POST", "/api/v1/models/", f"name=fraud&description={'d' * 3000}", "application/x-www-form-urlencoded"
    )
    assert_too_large(response, 2000)


def test_a_multipart_field_over_the_memory_limit_is_a_413(as_scientist, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    response = as_scientist.post(
        "/api/v1/models/churn/versions/",
        {"file": SimpleUploadedFile("model.bin", b"w"), "description": "d" * 3000},
        format="multipart",
    )
    assert_too_large(response, 2000)
    assert not ModelVersion.objects.exists()


def test_too_many_form_fields_is_a_413(as_scientist, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    fields = "&".join(f"f{i}=x" for i in range(20))
    response = as_scientist.generic("POST", "/api/v1/models/", fields, "application/x-www-form-urlencoded")
    assert_too_large(response, 10)
    assert "fields" in response.json()["detail"]


def test_the_token_endpoint_refuses_a_huge_body_too(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    body = json.dumps({"username": "someone", "password": "p" * 3000})
    assert_too_large(api.post("/api/v1/auth/token/", body, content_type="application/json"), 2000)
