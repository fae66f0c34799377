"""A reason, in one sentence, for every release that is not moving; the same few queries for many."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import JobRun
from releases import services, waiting
from releases.models import Environment, FreezeWindow, Release
from tests.releases.conftest import SETUP
from tests.releases.helpers import candidate, environment, mark_succeeded

pytestmark = pytest.mark.django_db


@pytest.fixture
def path(application, manager):
    staging = environment(application, "staging", actor=manager)
    prod = environment(
        application, "prod", actor=manager, previous=staging, required_approvals=2, soak_minutes=60
    )
    return staging, prod


def reason(release):
    release = Release.objects.select_related("environment").get(pk=release.pk)
    return waiting.reasons([release])[release.pk]


def test_approvals_still_needed_and_who_may_give_them(path, application, churn_model, scientist, manager):
    staging, _ = path
    release = services.request_release(
        staging, image=candidate(application, churn_model.versions.get(), "a"), actor=scientist
    )
    assert reason(release) == [
        "0 of 1 approvals (needs 1 more from Release manager; the requester cannot approve)"
    ]


def test_promotion_and_soak(path, application, churn_model, scientist):
    staging, prod = path
    image = candidate(application, churn_model.versions.get(), "b")
    passed = services.request_release(staging, image=image, actor=SETUP)
    mark_succeeded(passed)
    Release.objects.filter(pk=passed.pk).update(finished_at=timezone.now() - timedelta(minutes=37))
    Environment.objects.filter(pk=prod.pk).update(soak_minutes=0)
    prod.refresh_from_db()
    release = services.request_release(prod, image=image, actor=scientist)
    Environment.objects.filter(pk=prod.pk).update(soak_minutes=60)  # raised while it waits
    assert reason(release)[1] == "soak: 23 min left in staging"
    other = Release.objects.create(environment=prod, image=image, digest="sha256:" + "0" * 64)
    assert reason(other)[1] == "not yet released successfully to staging"


def test_a_queued_release_waits_for_a_freeze_another_rollout_or_a_retry(path, application, churn_model):
    staging, _ = path
    image = candidate(application, churn_model.versions.get(), "c")
    queued = Release.objects.create(environment=staging, image=image, digest=image.digest, state="queued")
    assert reason(queued) == ["waiting for a deploy worker"]

    FreezeWindow.objects.create(
        environment=staging,
        reason="quarter close",
        start=timezone.now() - timedelta(hours=1),
        end=timezone.now().replace(year=2099, month=12, day=31, hour=5, minute=0, second=0, microsecond=0),
        timezone="Europe/Amsterdam",
    )
    assert reason(queued) == ["freeze window 'quarter close' until 2099-12-31 06:00 Europe/Amsterdam"]
    FreezeWindow.objects.all().delete()

    deploying = Release.objects.create(
        environment=staging,
        image=image,
        digest=image.digest,
        state="deploying",
        progress={
            "ready_replicas": 1,
            "replicas": 3,
            "pod_problems": ["web-7f9c: ImagePullBackOff: not found"],
        },
    )
    Environment.objects.filter(pk=staging.pk).update(active_release=deploying)
    assert reason(queued) == [f"waiting for release #{deploying.pk}, deploying in this environment"]
    assert reason(deploying) == ["rollout: 1/3 pods ready; web-7f9c: ImagePullBackOff: not found"]

    JobRun.objects.create(
        name=waiting.DEPLOY_JOB,
        queue="deploys",
        args=[staging.pk],
        status="retrying",
        attempts=3,
        max_attempts=4,
        object_type="releases.environment",
        object_id=str(staging.pk),
        run_after=timezone.now() + timedelta(seconds=40),
        error="attempt 3 of 4 failed, retrying at 04:00:00 UTC: kubernetes: API server busy (HTTP 503)",
    )
    said = reason(deploying)
    assert said[1].startswith("job failed 3 times: kubernetes: API server busy (HTTP 503); next retry in ")

    JobRun.objects.update(
        error="attempt 3 of 4 failed, retrying at 04:00:00 UTC: "
    )  # an exception saying nothing
    assert reason(deploying)[1].startswith("job failed 3 times: no reason recorded; next retry in ")


def add_releases(path, application, version, count, start=0):
    staging, prod = path
    for i in range(start, start + count):
        image = candidate(application, version, f"r{i}")
        env, state = [(prod, "requested"), (staging, "queued"), (staging, "deploying")][i % 3]
        Release.objects.create(environment=env, image=image, digest=image.digest, state=state)


def test_the_same_queries_for_many_releases(path, application, churn_model):
    version = churn_model.versions.get()
    add_releases(path, application, version, 3)
    with CaptureQueriesContext(connection) as few:
        waiting.reasons(list(Release.objects.select_related("environment")))
    add_releases(path, application, version, 30, start=3)
    with CaptureQueriesContext(connection) as many:
        said = waiting.reasons(list(Release.objects.select_related("environment")))
    assert len(many) == len(few) and len(said) == 33


def test_the_reasons_reach_the_api_the_release_page_the_list_and_the_inbox(
    api, client, path, application, churn_model, scientist, manager
):
    staging, _ = path
    release = services.request_release(
        staging, image=candidate(application, churn_model.versions.get(), "w"), actor=scientist
    )
    said = "0 of 1 approvals (needs 1 more from Release manager; the requester cannot approve)"
    api.force_authenticate(scientist)
    assert api.get(f"/api/v1/releases/{release.pk}/").json()["waiting"] == [said]
    listed = api.get("/api/v1/releases/").json()["results"]
    assert [r["waiting"] for r in listed if r["id"] == release.pk] == [[said]]
    client.force_login(manager)
    for url in (f"/releases/{release.pk}/", "/releases/", "/approvals/", f"/environments/{staging.pk}/"):
        assert said in client.get(url).content.decode(), url
    mark_succeeded(release)
    assert api.get(f"/api/v1/releases/{release.pk}/").json()["waiting"] == []
