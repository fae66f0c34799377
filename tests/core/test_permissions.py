"""Role x action table: every action is checked on the server, for the API and the pages."""

from __future__ import annotations

import pytest

from models_registry import services
from tests.registry.helpers import upload

pytestmark = pytest.mark.django_db

ROLES = ["data-scientist", "release-manager", "on-call", "admin", None]

# action -> roles allowed
API_ACTIONS = {
    "list models": (
        ["data-scientist", "release-manager", "on-call", "admin"],
        "get",
        "/api/v1/models/",
        None,
    ),
    "create model": (["data-scientist", "admin"], "post", "/api/v1/models/", {"name": "new-model"}),
    "edit model": (["data-scientist", "admin"], "patch", "/api/v1/models/churn/", {"description": "x"}),
    "list versions": (
        ["data-scientist", "release-manager", "on-call", "admin"],
        "get",
        "/api/v1/models/churn/versions/",
        None,
    ),
    "register version": (["data-scientist", "admin"], "post", "/api/v1/models/churn/versions/", "upload"),
    "change status": (
        ["data-scientist", "release-manager", "admin"],
        "patch",
        "/api/v1/models/churn/versions/1/",
        {"status": "deprecated"},
    ),
    "download": (
        ["data-scientist", "release-manager", "on-call", "admin"],
        "get",
        "/api/v1/models/churn/versions/1/download/",
        None,
    ),
    "sync store": (["data-scientist", "admin"], "post", "/api/v1/models/sync/", {}),
    "audit log": (["data-scientist", "release-manager", "on-call", "admin"], "get", "/api/v1/audit/", None),
    "jobs": (["data-scientist", "release-manager", "on-call", "admin"], "get", "/api/v1/jobs/", None),
}


@pytest.fixture
def churn_v1(make_user):
    owner = make_user("owner", "data-scientist")
    model = services.create_model("churn", actor=owner)
    services.register_uploaded_version(model, upload(b"v1"), services.VersionInfo(metrics={}), actor=owner)
    return model


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", API_ACTIONS)
def test_api_permission_table(api, make_user, churn_v1, role, action, django_capture_on_commit_callbacks):
    allowed, method, url, data = API_ACTIONS[action]
    api.force_authenticate(make_user("someone", role))
    if data == "upload":
        data, fmt = {"file": upload(b"new content")}, "multipart"
    else:
        fmt = "json"
    with django_capture_on_commit_callbacks(execute=True):
        response = getattr(api, method)(url, data, format=fmt)
    if role in allowed:
        assert response.status_code in (200, 201, 202), (action, role, response.status_code)
    else:
        assert response.status_code == 403, (action, role, response.status_code)
        assert response.json()["detail"]


def test_anonymous_api_requests_are_refused(api, churn_v1):
    response = api.get("/api/v1/models/")
    assert response.status_code in (401, 403)
    assert response.json()["detail"]


PAGES = {
    "models page": (["data-scientist", "release-manager", "on-call", "admin"], "/models/"),
    "model page": (["data-scientist", "release-manager", "on-call", "admin"], "/models/churn/"),
    "version page": (["data-scientist", "release-manager", "on-call", "admin"], "/models/churn/versions/1/"),
    "register form": (["data-scientist", "admin"], "/models/churn/versions/new/"),
    "audit page": (["data-scientist", "release-manager", "on-call", "admin"], "/audit/"),
    "jobs page": (["data-scientist", "release-manager", "on-call", "admin"], "/jobs/"),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", PAGES)
def test_page_permission_table(client, make_user, churn_v1, role, page):
    allowed, url = PAGES[page]
    client.force_login(make_user("someone", role))
    response = client.get(url)
    assert response.status_code == (200 if role in allowed else 403), (page, role)


@pytest.mark.parametrize("role", ["on-call", None])
def test_page_posts_are_refused_without_the_permission(client, make_user, churn_v1, role):
    client.force_login(make_user("someone", role))
    assert client.post("/models/", {"name": "sneaky"}).status_code == 403
    assert (
        client.post("/models/churn/versions/1/", {"status": "blocked", "status_reason": "x"}).status_code
        == 403
    )
    churn_v1.versions.get(version=1).refresh_from_db()
    assert churn_v1.versions.get(version=1).status == "active"


def test_pages_redirect_anonymous_users_to_login(client):
    response = client.get("/models/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_a_user_without_a_role_is_told_so_instead_of_seeing_the_overview(client, make_user):
    client.force_login(make_user("newcomer"))
    response = client.get("/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "Your account has no role yet" in page and "What runs where" not in page
