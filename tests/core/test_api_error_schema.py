"""The OpenAPI schema documents every operation's error answers with one error schema, and the
answers match it."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.exceptions import ValidationError

from core.api import exception_handler

pytestmark = pytest.mark.django_db
ERROR = {"$ref": "#/components/schemas/Error"}
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def schema(api) -> dict[str, Any]:
    return api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_the_error_schema_has_detail_and_the_optional_parts(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail"]
    assert set(error["properties"]) == {"detail", "code", "field", "errors", "limit"}


def test_every_operation_documents_its_errors_with_the_error_schema(schema):
    for method, path, operation in operations(schema):
        statuses = {code for code in operation["responses"] if code >= "400"}
        expected = {"400"}
        if (method, path) != ("POST", "/api/v1/auth/token/"):  # signing in needs no sign-in
            expected.add("401")
        if "{" in path:
            expected.add("404")
        if "requestBody" in operation:
            expected.update({"413", "415"})
        assert expected <= statuses, (method, path, statuses)
        for code in statuses:
            content = operation["responses"][code]["content"]
            assert content == {"application/json": {"schema": ERROR}}, (method, path, code)


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("POST", "/api/v1/auth/token/", {"400", "403", "413", "415", "429"}),  # 403: LOCAL_LOGIN off
        ("POST", "/api/v1/models/", {"400", "401", "403", "409", "413", "415"}),
        ("POST", "/api/v1/models/{name}/versions/", {"400", "401", "403", "404", "413", "415", "503"}),
        (
            "GET",
            "/api/v1/models/{name}/versions/{number}/download/",
            {"400", "401", "403", "404", "409", "503"},
        ),
        ("POST", "/api/v1/builds/", {"400", "401", "403", "404", "409", "413", "415"}),
        ("POST", "/api/v1/releases/{id}/approve/", {"400", "401", "403", "404", "409", "413", "415"}),
        ("GET", "/api/v1/auth/tokens/", {"400", "401"}),
    ],
)
def test_operations_document_the_errors_their_code_answers(schema, method, path, statuses):
    operation = schema["paths"][path][method.lower()]
    assert {code for code in operation["responses"] if code >= "400"} == statuses


@pytest.mark.parametrize("path", ["/api/v1/builds/", "/api/v1/environments/", "/api/v1/releases/"])
def test_list_filters_are_parameters_of_the_list_not_of_creating(schema, path):
    assert schema["paths"][path]["get"]["parameters"]
    assert "parameters" not in schema["paths"][path]["post"]


def test_the_jobs_status_filter_is_documented_and_checked(schema, api, admin_user):
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/jobs/"]["get"]["parameters"]}
    assert "queued" in parameters["status"]["schema"]["enum"]
    api.force_authenticate(admin_user)
    assert api.get("/api/v1/jobs/?status=queued").status_code == 200
    response = api.get("/api/v1/jobs/?status=bogus")
    assert response.status_code == 400 and response.json()["field"] == "status"


def test_a_validation_error_raised_as_a_list_answers_a_text_detail():
    response = exception_handler(ValidationError(["Name one.", "Not both."]), {})
    assert response.data == {"detail": "Name one. Not both."}


def test_a_build_without_a_run_elsewhere_answers_a_null_external_url(api, manager, application):
    from builds.models import Build

    version = application.model.versions.get()
    local = Build.objects.create(application=application, commit="a" * 40, model_version=version)
    remote = Build.objects.create(
        application=application,
        commit="b" * 40,
        model_version=version,
        external_url="https://dev.azure.com/run/1",
    )
    api.force_authenticate(manager)
    assert api.get(f"/api/v1/builds/{local.pk}/").json()["external_url"] is None
    assert api.get(f"/api/v1/builds/{remote.pk}/").json()["external_url"] == "https://dev.azure.com/run/1"
