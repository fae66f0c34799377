"""Time travel and environment diff over the API: what ran where at an instant, where a model
version ran, and what one environment has that another lacks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from builds.models import Application, Build, BuildCommit
from models_registry import services as model_services
from releases.models import RunPeriod
from tests.fixtures.apps import sample_model_bytes
from tests.registry.helpers import upload
from tests.releases.conftest import SETUP
from tests.releases.helpers import candidate, environment
from tests.releases.test_history import go_out

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(api, scientist):
    api.force_authenticate(scientist)
    return api


@pytest.fixture
def two_versions(churn_model, scientist):
    v1 = churn_model.versions.get()
    v1.metrics = {"auc": 0.80, "rows": 1000}
    v1.save()
    v2, _ = model_services.register_uploaded_version(
        churn_model,
        upload(sample_model_bytes(2)),
        model_services.VersionInfo(metrics={"auc": 0.86}),
        actor=scientist,
    )
    return v1, v2


def shift(release, minutes):
    """Move a release's run period back in time (the tests cannot wait for hours)."""
    RunPeriod.objects.filter(release=release).update(started_at=timezone.now() - timedelta(minutes=minutes))
    RunPeriod.objects.filter(release=release, ended_at__isnull=False).update(
        ended_at=timezone.now() - timedelta(minutes=minutes - 10)
    )


def test_what_ran_at_an_instant_and_the_whole_timeline(signed_in, application, two_versions):
    v1, v2 = two_versions
    env = environment(application, actor=SETUP, required_approvals=0)
    first = go_out(env, candidate(application, v1, "one"))
    second = go_out(env, candidate(application, v2, "two"))
    shift(first, 60)  # ran from an hour ago until 50 minutes ago, then the second took over
    RunPeriod.objects.filter(release=second).update(started_at=timezone.now() - timedelta(minutes=50))
    at = (timezone.now() - timedelta(minutes=55)).isoformat()

    body = signed_in.get(f"/api/v1/environments/{env.pk}/history/", {"at": at}).json()

    (ran,) = body["results"]
    assert ran["release_id"] == first.pk
    assert ran["model_version"] == {"name": "churn-model", "version": 1}
    assert (ran["digest"], ran["commit"]) == (first.digest, first.commit)
    assert ran["started_at"] and ran["ended_at"]
    now_running = signed_in.get(f"/api/v1/environments/{env.pk}/history/", {"at": timezone.now().isoformat()})
    assert [p["release_id"] for p in now_running.json()["results"]] == [second.pk]
    before_all = (timezone.now() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (
        signed_in.get(f"/api/v1/environments/{env.pk}/history/", {"at": before_all}).json()["results"] == []
    )
    naive = (timezone.now() - timedelta(minutes=55)).strftime("%Y-%m-%dT%H:%M:%S")  # no offset: UTC
    assert [
        p["release_id"]
        for p in signed_in.get(f"/api/v1/environments/{env.pk}/history/", {"at": naive}).json()["results"]
    ] == [first.pk]
    timeline = signed_in.get(f"/api/v1/environments/{env.pk}/history/").json()
    assert [p["release_id"] for p in timeline["results"]] == [second.pk, first.pk]
    assert timeline["results"][0]["ended_at"] is None


@pytest.mark.parametrize(
    ("at", "says"),
    [
        ("yesterday", "ISO 8601"),
        ("2026-13-45T00:00:00Z", "ISO 8601"),
        ("2026-01-01T00:00:00+99:00", "ISO 8601"),
        ("a\x00b", "ISO 8601"),
        ("2999-01-01T00:00:00Z", "future"),
        ("0001-01-01T00:00:00+01:00", "before 1970"),
        ("1969-12-31T23:59:59Z", "before 1970"),
    ],
)
def test_a_bad_instant_is_a_400_saying_why(signed_in, application, at, says):
    env = environment(application, actor=SETUP)
    response = signed_in.get(f"/api/v1/environments/{env.pk}/history/", {"at": at})
    assert response.status_code == 400
    assert says in response.json()["detail"] and response.json()["field"] == "at"


def test_unknown_ids_are_404_json(signed_in, churn_model):
    assert signed_in.get("/api/v1/environments/999999/history/").status_code == 404
    missing = signed_in.get("/api/v1/models/churn-model/versions/99/deployments/")
    assert missing.status_code == 404 and "detail" in missing.json()
    assert signed_in.get("/api/v1/environments/diff/", {"from": 999999}).status_code == 404
    assert signed_in.get("/api/v1/environments/diff/").status_code == 400


def test_where_a_model_version_ran(signed_in, application, two_versions):
    v1, v2 = two_versions
    staging = environment(application, "staging", actor=SETUP, required_approvals=0)
    prod = environment(application, "prod", actor=SETUP, required_approvals=0, target_config={"port": 18111})
    image = candidate(application, v1, "one")
    in_staging = go_out(staging, image)
    in_prod = go_out(prod, image)
    go_out(staging, candidate(application, v2, "two"))

    body = signed_in.get("/api/v1/models/churn-model/versions/1/deployments/").json()

    ran = {(p["environment"], p["release_id"]): p for p in body["results"]}
    assert set(ran) == {("staging", in_staging.pk), ("prod", in_prod.pk)}
    assert ran[("staging", in_staging.pk)]["ended_at"] is not None  # replaced by v2
    assert ran[("prod", in_prod.pk)]["ended_at"] is None  # still runs
    assert all(p["application"] == application.name for p in body["results"])


def record_history(application, commits):
    """The commit list a build recorded (newest first), as the build job stores it."""
    build = Build.objects.filter(application=application, commit=commits[0]).first()
    build.history_recorded_at = timezone.now()
    build.history_complete = True
    build.save()
    for i, sha in enumerate(commits):
        BuildCommit.objects.create(
            build=build,
            position=i,
            sha=sha,
            author="dev",
            authored_at=timezone.now(),
            subject=f"change {sha[:4]}",
        )


def test_diff_of_two_environments(signed_in, application, two_versions):
    v1, v2 = two_versions
    staging = environment(application, "staging", actor=SETUP, required_approvals=0)
    prod = environment(application, "prod", actor=SETUP, required_approvals=0, target_config={"port": 18112})
    old = candidate(application, v1, "one")
    new = candidate(application, v2, "two")
    record_history(application, [old.commit, "a" * 40])
    record_history(application, [new.commit, "b" * 40, old.commit, "a" * 40])
    go_out(staging, old)
    go_out(prod, old)
    ahead = go_out(staging, new)

    diff = signed_in.get("/api/v1/environments/diff/", {"from": prod.pk, "to": staging.pk}).json()

    assert diff["same_application"] is True and diff["notes"] == []
    assert (diff["from"]["environment"], diff["to"]["environment"]) == ("prod", "staging")
    assert diff["digest"] == {"from": old.digest, "to": new.digest, "changed": True}
    assert [c["sha"] for c in diff["commits"]] == [new.commit, "b" * 40]
    assert diff["model_version"] == {"from": "churn-model v1", "to": "churn-model v2", "changed": True}
    auc = next(m for m in diff["metrics"] if m["metric"] == "auc")
    assert auc["delta"] == pytest.approx(0.06)
    assert next(m for m in diff["metrics"] if m["metric"] == "rows") == {
        "metric": "rows",
        "from": 1000.0,
        "to": None,
        "delta": None,
    }
    assert [r["release_id"] for r in diff["releases_between"]] == [ahead.pk]


def test_diff_of_one_environment_at_two_instants(signed_in, application, two_versions):
    v1, v2 = two_versions
    env = environment(application, actor=SETUP, required_approvals=0)
    first = go_out(env, candidate(application, v1, "one"))
    second = go_out(env, candidate(application, v2, "two"))
    shift(first, 60)
    RunPeriod.objects.filter(release=second).update(started_at=timezone.now() - timedelta(minutes=50))
    then = (timezone.now() - timedelta(minutes=55)).isoformat()

    diff = signed_in.get("/api/v1/environments/diff/", {"from": env.pk, "from_at": then}).json()

    assert diff["from"]["release_id"] == first.pk and diff["to"]["release_id"] == second.pk
    assert diff["model_version"]["changed"] is True
    assert [r["release_id"] for r in diff["releases_between"]] == [second.pk]
    future = signed_in.get("/api/v1/environments/diff/", {"from": env.pk, "to_at": "2999-01-01T00:00:00Z"})
    assert future.status_code == 400 and future.json()["field"] == "to_at"


def test_diff_across_applications_is_allowed_and_says_so(signed_in, application, churn_model, two_versions):
    v1, _ = two_versions
    other = Application.objects.create(
        name="fraud", repository_url=application.repository_url, image_repository="fraud", model=churn_model
    )
    mine = environment(application, actor=SETUP, required_approvals=0)
    theirs = environment(other, actor=SETUP, required_approvals=0, target_config={"port": 18113})
    go_out(mine, candidate(application, v1, "one"))
    go_out(theirs, candidate(other, v1, "fraud-one"))

    diff = signed_in.get("/api/v1/environments/diff/", {"from": mine.pk, "to": theirs.pk}).json()

    assert diff["same_application"] is False
    assert "different applications" in diff["notes"][0]
    assert diff["commits"] == [] and "different applications" in diff["commits_error"]
    assert diff["model_version"]["changed"] is False
