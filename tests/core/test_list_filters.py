"""Lists filter and search with one definition for the page and the API, and page with the filters kept."""

from __future__ import annotations

import pytest

from builds.models import Build, ImageTag
from core.models import JobRun
from models_registry.models import RegisteredModel
from releases import services
from releases.models import Release
from tests.releases.conftest import SETUP
from tests.releases.helpers import candidate, environment

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(application, churn_model, scientist):
    version = churn_model.versions.get()
    env = environment(application, actor=SETUP, required_approvals=1)
    one = candidate(application, version, "one")
    two = candidate(application, version, "two")
    ImageTag.objects.create(repository=one.repository, tag="v1.0", image=one)
    first = services.request_release(env, image=one, actor=scientist)
    second = services.request_release(env, image=two, actor=scientist)
    Release.objects.filter(pk=first.pk).update(state=Release.State.FAILED)
    RegisteredModel.objects.create(name="fraud-model")
    JobRun.objects.create(name="builds.jobs.run_build", status=JobRun.Status.FAILED)
    JobRun.objects.create(name="models_registry.jobs.sync_model_store", status=JobRun.Status.SUCCEEDED)
    return env, one, two, first, second


def ids(response):
    return [row["id"] for row in response.json()["results"]]


def test_the_api_lists_filter_and_search(api, scientist, application, world):
    _env, one, two, first, second = world
    api.force_authenticate(scientist)
    assert ids(api.get("/api/v1/releases/", {"state": "failed"})) == [first.pk]
    assert ids(api.get("/api/v1/releases/", {"q": f"#{second.pk}"})) == [second.pk]
    assert ids(api.get("/api/v1/releases/", {"q": two.commit[:8]})) == [second.pk]
    assert ids(api.get("/api/v1/releases/", {"q": one.digest[7:19]})) == [first.pk]
    assert ids(api.get("/api/v1/releases/", {"q": "not-hex!"})) == []
    assert ids(api.get("/api/v1/releases/", {"q": "#\u00b2"})) == []  # a digit to str.isdigit, not to int()
    assert ids(api.get("/api/v1/images/", {"q": "v1.0"})) == [one.pk]
    assert ids(api.get("/api/v1/images/", {"q": two.digest[:20]})) == [two.pk]
    assert ids(api.get("/api/v1/images/", {"q": "(R$g_Æ"})) == []
    assert ids(api.get("/api/v1/builds/", {"commit": one.commit[:9]})) == [Build.objects.get(image=one).pk]
    assert [m["name"] for m in api.get("/api/v1/models/", {"q": "FRAUD"}).json()["results"]] == [
        "fraud-model"
    ]
    jobs = api.get("/api/v1/jobs/", {"status": "failed", "name": "run_build"}).json()["results"]
    assert [j["name"] for j in jobs] == ["builds.jobs.run_build"]


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/api/v1/releases/", {"state": "lost"}, "state"),
        ("/api/v1/builds/", {"state": "lost"}, "state"),
        ("/api/v1/jobs/", {"status": "lost"}, "status"),
        ("/api/v1/models/", {"q": "x" * 201}, "q"),
    ],
)
def test_a_bad_filter_value_is_a_400_naming_it(api, scientist, world, url, params, field):
    api.force_authenticate(scientist)
    response = api.get(url, params)
    assert response.status_code == 400 and response.json()["field"] == field


def test_the_pages_filter_label_their_inputs_and_keep_filters_in_page_links(client, scientist, world):
    _env, one, two, first, second = world
    client.force_login(scientist)
    page = client.get("/releases/", {"state": "failed"}).content.decode()
    assert f'href="/releases/{first.pk}/"' in page and f'href="/releases/{second.pk}/"' not in page
    assert '<label for="filter-state">State</label>' in page and 'id="filter-state"' in page
    bad = client.get("/releases/", {"state": "lost"}).content.decode()
    assert "state must be one of" in bad and f'href="/releases/{second.pk}/"' in bad
    assert client.get("/releases/", {"q": "\u00b2"}).status_code == 200
    images = client.get("/images/", {"q": "v1.0"}).content.decode()
    assert one.digest[:19] in images and two.digest[:19] not in images
    assert "fraud-model" not in client.get("/models/", {"q": "churn"}).content.decode()
    jobs = client.get("/jobs/", {"status": "failed"}).content.decode()
    assert "run_build" in jobs and "sync_model_store" not in jobs
    for i in range(60):
        JobRun.objects.create(name=f"builds.jobs.run_build_{i}", status=JobRun.Status.FAILED)
    paged = client.get("/jobs/", {"status": "failed"}).content.decode()
    assert "status=failed&amp;page=2" in paged
