"""List paging: ``limit`` and ``offset`` within their bounds, or a 400 naming the parameter (never the
default instead of what was asked), and ``page``, which these lists do not have, is a 400 too."""

from __future__ import annotations

import pytest

from models_registry import services as model_services

pytestmark = pytest.mark.django_db
HUGE = "99999999999999999999"
LISTS = ["/api/v1/models/", "/api/v1/jobs/", "/api/v1/audit/", "/api/v1/releases/", "/api/v1/auth/tokens/"]


@pytest.fixture
def as_admin(api, admin_user, scientist):
    for name in ("churn", "fraud", "upsell"):
        model_services.create_model(name, actor=scientist)
    api.force_authenticate(admin_user)
    return api


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        (f"limit={HUGE}", "limit"),
        ("limit=", "limit"),
        ("limit=2.5", "limit"),
        ("offset=-1", "offset"),
        ("offset=ten", "offset"),
        (f"offset={HUGE}", "offset"),
        ("offset=%C2%B2", "offset"),  # a superscript two: a digit to Python, not a number here
        ("page=2", "page"),
    ],
)
def test_a_paging_parameter_out_of_bounds_is_a_400_naming_it(as_admin, url, query, parameter):
    response = as_admin.get(f"{url}?{query}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["field"] == parameter
    assert body["detail"].startswith(parameter)


def test_a_limit_and_offset_within_bounds_page_as_asked(as_admin):
    body = as_admin.get("/api/v1/models/?limit=1&offset=1").json()
    assert body["count"] == 3
    assert [model["name"] for model in body["results"]] == ["fraud"]
    assert "limit=1" in body["next"] and "offset=2" in body["next"]


def test_the_largest_limit_and_offset_are_accepted(as_admin):
    response = as_admin.get("/api/v1/models/?limit=500&offset=1000000000000")
    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize("offset", ["-1", "x", HUGE])
def test_a_build_log_offset_out_of_bounds_is_a_400_naming_it(as_admin, application, manager, offset):
    from builds.models import Build

    build = Build.objects.create(
        application=application, commit="a" * 40, model_version=application.model.versions.get(), log="hello"
    )
    response = as_admin.get(f"/api/v1/builds/{build.pk}/log/?offset={offset}")
    assert response.status_code == 400
    assert response.json()["field"] == "offset"
    assert as_admin.get(f"/api/v1/builds/{build.pk}/log/?offset=2").json()["text"] == "llo"


def test_the_schema_documents_the_bounds_of_limit_and_offset(as_admin):
    schema = as_admin.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    parameters = schema["paths"]["/api/v1/models/"]["get"]["parameters"]
    schemas = {parameter["name"]: parameter["schema"] for parameter in parameters}
    assert schemas["limit"] == {"type": "integer", "minimum": 1, "maximum": 500}
    assert schemas["offset"] == {"type": "integer", "minimum": 0, "maximum": 10**12}
