"""Role x action table for releases; every action is checked on the server."""

from __future__ import annotations

import pytest

from releases import services
from tests.releases.helpers import candidate, environment, mark_succeeded

pytestmark = pytest.mark.django_db

ROLES = ["data-scientist", "release-manager", "on-call", "admin", None]


@pytest.fixture
def scene(application, churn_model, manager, make_user):
    requester = make_user("requester", "data-scientist")
    env = environment(application, "staging", actor=manager)
    version = churn_model.versions.get()
    old = mark_succeeded(
        services.request_release(env, image=candidate(application, version, "old"), actor=requester)
    )
    current = mark_succeeded(
        services.request_release(env, image=candidate(application, version, "cur"), actor=requester)
    )
    pending = services.request_release(env, image=candidate(application, version, "new"), actor=requester)
    return {
        "env": env,
        "old": old,
        "current": current,
        "pending": pending,
        "image": candidate(application, version, "more"),
    }


ACTIONS = {
    "list releases": (set(ROLES) - {None}, "get", lambda s: "/api/v1/releases/", None),
    "list environments": (set(ROLES) - {None}, "get", lambda s: "/api/v1/environments/", None),
    "request": (
        {"data-scientist", "release-manager", "admin"},
        "post",
        lambda s: "/api/v1/releases/",
        lambda s: {"environment": s["env"].pk, "image": s["image"].pk},
    ),
    "approve": (
        {"release-manager", "admin"},
        "post",
        lambda s: f"/api/v1/releases/{s['pending'].pk}/approve/",
        lambda s: {},
    ),
    "reject": (
        {"release-manager", "admin"},
        "post",
        lambda s: f"/api/v1/releases/{s['pending'].pk}/reject/",
        lambda s: {},
    ),
    "rollback": (
        {"on-call", "release-manager", "admin"},
        "post",
        lambda s: f"/api/v1/releases/{s['current'].pk}/rollback/",
        lambda s: {},
    ),
    "schedule": (
        {"release-manager", "admin"},
        "post",
        lambda s: "/api/v1/schedules/",
        lambda s: {"environment": s["env"].pk, "cron": "0 2 * * *"},
    ),
    "edit environment": (
        {"release-manager", "admin"},
        "patch",
        lambda s: f"/api/v1/environments/{s['env'].pk}/",
        lambda s: {"required_approvals": 2},
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS)
def test_release_permission_table(api, make_user, scene, role, action):
    allowed, method, url, data = ACTIONS[action]
    api.force_authenticate(make_user("someone", role) if role else None)
    response = getattr(api, method)(url(scene), data(scene) if data else None, format="json")
    if role in allowed:
        assert response.status_code in (200, 201), (action, role, response.json())
    else:
        assert response.status_code in (401, 403), (action, role, response.status_code)
        assert response.json()["detail"]


@pytest.mark.parametrize(
    ("role", "status"), [("on-call", 403), ("data-scientist", 403), ("release-manager", 302)]
)
def test_page_actions_are_checked_too(client, make_user, scene, role, status):
    client.force_login(make_user("someone", role))
    response = client.post(f"/releases/{scene['pending'].pk}/approve/")
    assert response.status_code == status
    scene["pending"].refresh_from_db()
    assert scene["pending"].state == ("queued" if status == 302 else "requested")


def test_the_pages_render_for_every_role(client, make_user, scene):
    for role in ("data-scientist", "release-manager", "on-call"):
        client.force_login(make_user(f"u-{role}", role))
        for url in (f"/environments/{scene['env'].pk}/", f"/releases/{scene['pending'].pk}/", "/releases/"):
            assert client.get(url).status_code == 200, (role, url)
    assert client.get("/approvals/").status_code == 403  # the on-call user has no inbox
