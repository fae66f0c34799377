"""The "Build now" form suggests the newest model versions and accepts any by number."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from builds.models import Build
from models_registry import services as model_services
from tests.registry.helpers import upload

pytestmark = pytest.mark.django_db
PAGE = "/applications/churn-predictor/"


def register_versions(model, actor, count, start=2):
    """Versions ``start`` … of the model (v1 is the fixture's)."""
    for i in range(start, start + count):
        model_services.register_uploaded_version(
            model, upload(f"model bytes {i}".encode()), model_services.VersionInfo(metrics={}), actor=actor
        )


def offered(html: str) -> list[str]:
    return re.findall(r'<option value="(v\d+)" label=', html)


def test_the_form_offers_the_newest_20_versions_and_no_list_of_all(
    client, application, churn_model, scientist, manager
):
    client.force_login(manager)
    with CaptureQueriesContext(connection) as few:
        client.get(PAGE)
    register_versions(churn_model, scientist, 29)  # v2 … v30

    with CaptureQueriesContext(connection) as many:
        page = client.get(PAGE).content.decode()

    assert offered(page) == [f"v{n}" for n in range(30, 10, -1)]
    assert '<select name="model_version"' not in page
    assert len(many) == len(few)


def test_older_versions_are_found_by_the_digits_typed(client, application, churn_model, scientist, manager):
    register_versions(churn_model, scientist, 29)
    blocked = churn_model.versions.get(version=3)
    model_services.change_status(blocked, "blocked", reason="leaks labels", actor=scientist)
    client.force_login(manager)
    url = f"{PAGE}model-versions/"
    assert offered(client.get(url, {"model_version": "v2"}).content.decode()) == [
        "v29",
        "v28",
        "v27",
        "v26",
        "v25",
        "v24",
        "v23",
        "v22",
        "v21",
        "v20",
        "v2",
    ]
    assert offered(client.get(url, {"model_version": "3"}).content.decode()) == ["v30"]  # v3 is blocked
    assert offered(client.get(url, {"model_version": "1"}).content.decode())[-1] == "v1"
    assert offered(client.get(url, {"model_version": "nope"}).content.decode()) == []


def test_build_now_with_an_old_version_typed_in(client, application, churn_model, scientist, manager):
    register_versions(churn_model, scientist, 25)
    client.force_login(manager)

    response = client.post(PAGE, {"commit": "", "model_version": "v1"})

    build = Build.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/builds/{build.pk}/"
    assert (build.model_version.version, build.requested_ref) == (1, "refs/heads/main")


def test_build_now_with_nothing_typed_builds_the_latest_active_version(
    client, application, churn_model, scientist, manager
):
    register_versions(churn_model, scientist, 2)
    client.force_login(manager)
    client.post(PAGE, {"commit": "", "model_version": ""})
    assert Build.objects.get().model_version.version == 3


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"model_version": "v99"}, "churn-model has no version 99."),
        (
            {"model_version": "latest"},
            "Type a version number (v3), or leave it empty for the latest active one.",
        ),
        ({"commit": "HEAD~1"}, "&#x27;head~1&#x27; is not a commit sha (7-40 hex characters)."),
        ({"model_version": "v2"}, "churn-model v2 is blocked (bias); it cannot be built."),
    ],
)
def test_what_cannot_be_built_is_a_form_error(
    client, application, churn_model, scientist, manager, fields, error
):
    register_versions(churn_model, scientist, 1)
    model_services.change_status(
        churn_model.versions.get(version=2), "blocked", reason="bias", actor=scientist
    )
    client.force_login(manager)

    response = client.post(PAGE, {"commit": "", "model_version": "", **fields})

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Build.objects.exists()
