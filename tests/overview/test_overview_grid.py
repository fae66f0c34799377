"""The overview: what runs where, since when, approved by whom, and why anything waits."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from builds.models import Application
from core import audit
from overview.views import grid_cache_key
from releases import services
from releases.models import Environment, Release
from tests.releases.conftest import SETUP
from tests.releases.helpers import candidate, environment, mark_succeeded

pytestmark = pytest.mark.django_db


@pytest.fixture
def path(application, manager):
    staging = environment(application, "staging", actor=SETUP, required_approvals=0, order=1)
    prod = environment(application, "prod", actor=SETUP, previous=staging, required_approvals=1, order=2)
    return staging, prod


def approved_release(env, image, requester, approver):
    release = services.request_release(env, image=image, actor=requester)
    if release.state == Release.State.REQUESTED:
        services.approve(release, actor=approver)
    return mark_succeeded(release)


def entry(entries, environment):
    (found,) = [e for e in entries if e["environment_id"] == environment.pk]
    return found


def test_each_cell_says_what_runs_since_when_and_who_approved(
    api, client, path, application, churn_model, scientist, manager
):
    staging, prod = path
    version = churn_model.versions.get()
    image = candidate(application, version, "one")
    approved_release(staging, image, scientist, manager)
    running = approved_release(prod, image, scientist, manager)
    api.force_authenticate(scientist)

    body = api.get("/api/v1/overview/").json()

    assert body["count"] == 2
    cell = entry(body["results"], prod)
    assert cell["application"] == application.name and cell["environment"] == "prod"
    assert cell["state"] == "running" and cell["state_text"] == "running"
    assert cell["release_id"] == running.pk
    assert cell["model_version"] == {"name": "churn-model", "version": 1}
    assert (cell["digest"], cell["commit"]) == (image.digest, image.commit)
    assert cell["approved_by"] == [manager.username]
    assert cell["since"] is not None and cell["waiting"] == [] and cell["rollout"] is None
    assert cell["url"].endswith(f"/environments/{prod.pk}/")
    assert [e["environment"] for e in body["results"]] == ["staging", "prod"]  # promotion order

    client.force_login(scientist)
    page = client.get("/").content.decode()
    assert "churn-model v1" in page and image.commit[:7] in page and image.digest[7:19] in page
    assert f"approved by {manager.username}" in page
    assert page.index(">staging<") < page.index(">prod<")


def test_waits_and_rollouts_are_said_in_words(
    api, client, path, application, churn_model, scientist, manager
):
    staging, prod = path
    version = churn_model.versions.get()
    one = candidate(application, version, "one")
    approved_release(staging, one, scientist, manager)
    waiting = services.request_release(prod, image=one, actor=scientist)
    deploying = services.request_release(
        staging, image=candidate(application, version, "two"), actor=scientist
    )
    Release.objects.filter(pk=deploying.pk).update(
        state=Release.State.DEPLOYING,
        progress={"replicas": 3, "updated_replicas": 2, "ready_replicas": 1, "pod_problems": []},
    )
    Environment.objects.filter(pk=staging.pk).update(active_release=deploying)
    api.force_authenticate(scientist)

    entries = api.get("/api/v1/overview/").json()["results"]

    prod_cell, staging_cell = entry(entries, prod), entry(entries, staging)
    assert prod_cell["state"] == "waiting"
    assert prod_cell["pending"] == [{"id": waiting.pk, "state": "requested"}]
    assert prod_cell["waiting"] == [
        "0 of 1 approvals (needs 1 more from Release manager; the requester cannot approve)"
    ]
    assert staging_cell["state"] == "deploying"
    assert staging_cell["rollout"] == {"release": deploying.pk, "ready": 1, "updated": 2, "desired": 3}
    assert staging_cell["waiting"] == ["rollout: 1/3 pods ready"]

    client.force_login(scientist)
    grid = client.get("/", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in grid and "<table" in grid
    whole = client.get("/").content.decode()
    assert 'hx-trigger="every 5s"' in whole and 'hx-target="#overview-cells"' in whole
    assert '<div id="overview-cells" aria-live="polite">' in whole
    assert "needs 1 more from Release manager" in grid and "rollout: 1/3 pods ready" in grid
    assert 'value="1"' in grid and "deploying" in grid


def test_failure_drift_and_health_show_in_the_cell(api, path, application, churn_model, scientist, manager):
    staging, prod = path
    version = churn_model.versions.get()
    approved_release(staging, candidate(application, version, "one"), scientist, manager)
    Environment.objects.filter(pk=staging.pk).update(ready_replicas=1, desired_replicas=3)
    Environment.objects.filter(pk=prod.pk).update(drift="runs other:tag, but the product last set …")
    api.force_authenticate(scientist)

    entries = api.get("/api/v1/overview/").json()["results"]

    assert entry(entries, staging)["state"] == "degraded"
    assert entry(entries, staging)["health"] == {"ready": 1, "desired": 3}
    assert entry(entries, prod)["state"] == "drift" and "other:tag" in entry(entries, prod)["drift"]
    failed = services.request_release(staging, image=candidate(application, version, "bad"), actor=scientist)
    Release.objects.filter(pk=failed.pk).update(state=Release.State.FAILED, finished_at=timezone.now())
    assert entry(api.get("/api/v1/overview/").json()["results"], staging)["state"] == "failed"


def test_filter_by_application_and_constant_queries(
    api, client, path, application, churn_model, scientist, manager, django_assert_max_num_queries
):
    staging, prod = path
    version = churn_model.versions.get()
    one = candidate(application, version, "one")
    approved_release(staging, one, scientist, manager)
    services.request_release(prod, image=one, actor=scientist)  # waits for approval
    services.request_release(staging, image=candidate(application, version, "two"), actor=scientist)  # queued
    client.force_login(scientist)
    api.force_authenticate(scientist)
    counts = {}
    for url in ("/", "/api/v1/overview/"):
        with django_assert_max_num_queries(40) as captured:
            assert (client if url == "/" else api).get(url).status_code == 200
        counts[url] = len(captured)

    for i in range(6):
        other = Application.objects.create(
            name=f"fraud-{i}",
            repository_url=application.repository_url,
            image_repository=f"fraud-{i}",
            model=churn_model,
        )
        env = environment(
            other, "staging", actor=SETUP, required_approvals=0, target_config={"port": 19000 + i}
        )
        approved_release(env, candidate(other, version, f"fraud-{i}"), scientist, manager)
        services.request_release(env, image=candidate(other, version, f"fraud-{i}-next"), actor=scientist)

    for url in ("/", "/api/v1/overview/"):
        with django_assert_max_num_queries(counts[url]):
            assert (client if url == "/" else api).get(url).status_code == 200

    only = api.get("/api/v1/overview/?application=fraud-3").json()
    assert [(e["application"], e["environment"]) for e in only["results"]] == [("fraud-3", "staging")]
    page = client.get("/?application=fraud-3", headers={"HX-Request": "true"}).content.decode()
    assert "fraud-3" in page and "fraud-4" not in page and application.name not in page
    assert client.get("/?application=nothing-like-it").content.decode().count("No application matches") == 1


def test_recent_changes_read_as_field_changes_not_dicts(client, application, manager, scientist):
    audit.record(
        "environment.update",
        application,
        actor=manager,
        before={"soak_minutes": 0, "auto_rollback": True},
        after={"soak_minutes": 30, "auto_rollback": False, "name": "staging"},
    )
    client.force_login(scientist)
    # The home page loads them below the grid once it shows; without htmx the URL is a page.
    home = client.get("/").content.decode()
    assert 'hx-get="/activity/" hx-trigger="load"' in home and "soak_minutes" not in home
    fragment = client.get("/activity/", headers={"HX-Request": "true"}).content.decode()
    assert fragment.startswith('<div id="activity">') and "<html" not in fragment
    page = client.get("/activity/").content.decode()
    assert "<html" in page and "Recent changes" in page and "Latest model versions" in page
    assert "{&#x27;" not in page and "{'" not in page
    assert (
        '<span class="field">soak_minutes</span>: <span class="old">0</span> → <span class="new">30</span>'
        in page
    )
    assert (
        '<span class="field">auto_rollback</span>: <span class="old">yes</span> → <span class="new">no</span>'
        in page
    )
    assert (
        '<span class="field">name</span>: <span class="old">\u2013</span> → <span class="new">staging</span>'
        in page
    )


def test_the_overview_needs_a_sign_in(api, client):
    assert api.get("/api/v1/overview/").status_code in (401, 403)
    assert client.get("/").status_code == 302
    assert client.get("/activity/").status_code == 302


def test_the_grid_shows_50_applications_at_a_time(client, application, churn_model, scientist):
    for i in range(52):
        Application.objects.create(
            name=f"app-{i:02}",
            repository_url=application.repository_url,
            image_repository=f"app-{i:02}",
            model=churn_model,
        )
    client.force_login(scientist)
    first = client.get("/", headers={"HX-Request": "true"}).content.decode()
    second = client.get("/", {"page": 2}, headers={"HX-Request": "true"}).content.decode()
    assert first.count('<th scope="row">') == 50 and second.count('<th scope="row">') == 3
    assert "Applications 51\u201353 of 53" in second
    assert 'hx-get="/?page=2"' in client.get("/", {"page": 2}).content.decode()  # the refresh keeps the page


def test_the_grid_is_rendered_once_per_cache_period_for_everyone(
    client,
    settings,
    path,
    application,
    churn_model,
    scientist,
    manager,
    oncall,
    django_assert_max_num_queries,
):
    settings.OVERVIEW_CACHE_SECONDS = 60
    staging, _ = path
    client.force_login(scientist)
    first = client.get("/", headers={"HX-Request": "true"}).content.decode()
    assert "nothing released" in first
    approved_release(staging, candidate(application, churn_model.versions.get(), "one"), scientist, manager)
    client.force_login(oncall)  # another viewer reads the same rendering
    with django_assert_max_num_queries(6):  # session, user, roles, page count: no cell queries
        again = client.get("/", headers={"HX-Request": "true"}).content.decode()
    assert again == first  # still the cached rendering: at most OVERVIEW_CACHE_SECONDS old
    assert "running" in client.get("/?application=churn", headers={"HX-Request": "true"}).content.decode()
    settings.OVERVIEW_CACHE_SECONDS = 0
    assert "running" in client.get("/", headers={"HX-Request": "true"}).content.decode()


def test_a_poll_that_holds_the_current_grid_gets_no_content_until_a_cell_changes(
    client, path, application, churn_model, scientist, manager
):
    staging, _ = path
    client.force_login(scientist)
    page = client.get("/").content.decode()
    seen = re.search(r'<input type="hidden" id="grid-seen" name="seen" value="([0-9a-f]{16})">', page)
    assert seen and 'hx-include="#grid-seen"' in page
    poll = {"page": 1, "seen": seen.group(1)}

    unchanged = client.get("/", poll, headers={"HX-Request": "true"})  # rendered again: a later caption
    assert unchanged.status_code == 204 and unchanged.content == b""

    approved_release(staging, candidate(application, churn_model.versions.get(), "one"), scientist, manager)
    changed = client.get("/", poll, headers={"HX-Request": "true"})
    assert changed.status_code == 200 and "running" in changed.content.decode()
    new = re.search(
        r'id="grid-seen" name="seen" value="([0-9a-f]{16})" hx-swap-oob="true">$', changed.content.decode()
    )
    assert new and new.group(1) != seen.group(1)
    assert client.get("/", {"seen": new.group(1)}, headers={"HX-Request": "true"}).status_code == 204
    assert client.get("/", {"seen": "<script>"}, headers={"HX-Request": "true"}).status_code == 200


def test_a_poll_holding_the_cached_grid_reads_its_version_only(
    client, path, scientist, settings, django_assert_max_num_queries
):
    from django.core.cache import cache  # not at module level: collecting it would open the cache early

    settings.OVERVIEW_CACHE_SECONDS = 60
    client.force_login(scientist)
    seen = re.search(r'id="grid-seen" name="seen" value="([0-9a-f]{16})"', client.get("/").content.decode())
    cache.delete(grid_cache_key("", 1))  # the grid itself gone: answering must not need it
    with django_assert_max_num_queries(3):  # who is signed in (the auth cache is off in tests); no cells
        answer = client.get("/", {"page": 1, "seen": seen.group(1)}, headers={"HX-Request": "true"})
    assert answer.status_code == 204
    assert cache.get(grid_cache_key("", 1)) is None  # and nothing rendered it again
