"""Each event goes out from the real action that causes it, to the channels whose filters take it."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from builds import services as build_services
from models_registry import services as model_services
from notifications.models import Delivery
from releases import drift
from releases import services as release_services
from releases.models import Release
from tests.releases.conftest import SETUP
from tests.releases.helpers import candidate, environment

pytestmark = pytest.mark.django_db
ALL_EVENTS = [
    "approval_needed",
    "release_succeeded",
    "release_failed",
    "release_rolled_back",
    "drift_detected",
    "build_failed",
    "model_version_registered",
]


@pytest.fixture
def staging(application, manager):
    return environment(application, "staging", actor=manager)


@pytest.fixture
def release(staging, application, churn_model, scientist):
    """A release on its way out (the deploy itself is tested with releases)."""
    image = candidate(application, churn_model.versions.get(), "img-a")
    release = release_services.request_release(staging, image=image, actor=scientist)
    Release.objects.filter(pk=release.pk).update(state=Release.State.DEPLOYING)
    release.refresh_from_db()
    return release


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what happens after the action commits: the notification fan-out and the delivery jobs."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def sent(receiver, event):
    return [r.json for r in receiver.received if r.json["event"] == event]


def test_a_release_waiting_for_approval_asks_for_it(
    make_channel, receiver, committed, staging, application, churn_model, scientist
):
    make_channel(events=["approval_needed"])
    image = candidate(application, churn_model.versions.get(), "img-a")

    with committed():
        release = release_services.request_release(staging, image=image, actor=scientist)

    (body,) = sent(receiver, "approval_needed")
    assert body["release_id"] == release.pk
    assert (body["application"], body["environment"], body["state"]) == (
        "churn-predictor",
        "staging",
        "requested",
    )
    assert body["summary"].startswith(f"Release #{release.pk} of churn-predictor to staging needs approval")
    assert body["url"] == f"https://releases.example.com/releases/{release.pk}/"
    assert body["model_version"] == "churn-model v1" and body["build_id"] is not None


def test_a_release_that_needs_no_approval_asks_nobody(
    make_channel, receiver, committed, application, churn_model, scientist, manager
):
    make_channel(events=["approval_needed"])
    open_env = environment(application, "dev", actor=SETUP, required_approvals=0)
    image = candidate(application, churn_model.versions.get(), "img-a")

    with committed():
        release = release_services.request_release(open_env, image=image, actor=scientist)

    release.refresh_from_db()
    assert release.state != "requested"
    assert not sent(receiver, "approval_needed")


@pytest.mark.parametrize(
    ("to", "event"),
    [
        ("succeeded", "release_succeeded"),
        ("failed", "release_failed"),
        ("rolled_back", "release_rolled_back"),
    ],
)
def test_a_release_that_ends_says_how(make_channel, receiver, committed, release, to, event):
    make_channel(events=ALL_EVENTS)

    with committed():
        release_services.transition(release, to, actor="job:process_environment", reason="image pull failed")

    (body,) = sent(receiver, event)
    assert (body["release_id"], body["state"]) == (release.pk, to)
    if to != "succeeded":
        assert body["reason"] == "image pull failed" and "image pull failed" in body["summary"]


def test_drift_is_sent_with_what_runs(make_channel, receiver, committed, staging):
    make_channel(events=["drift_detected"])

    with committed():
        drift._record(staging, "runs hotfix:1, but the product last set app@sha256:abc (release #1)")

    (body,) = sent(receiver, "drift_detected")
    assert (body["application"], body["environment"]) == ("churn-predictor", "staging")
    assert "hotfix:1" in body["reason"] and "hotfix:1" in body["summary"]


def test_a_failed_build_is_sent(make_channel, receiver, committed, application, manager):
    make_channel(events=["build_failed"])

    with committed():
        build, _ = build_services.request_build(application, commit="deadbee", actor=manager)

    build.refresh_from_db()
    assert build.state == "failed"
    (body,) = sent(receiver, "build_failed")
    assert (body["build_id"], body["application"], body["environment"]) == (build.pk, "churn-predictor", None)
    assert body["reason"] == build.failure_reason


def test_a_registered_model_version_is_sent_to_the_applications_that_use_the_model(
    make_channel, receiver, committed, churn_model, scientist, manager, app_repo
):
    follower = build_services.create_application(
        {
            "name": "follower",
            "repository_url": str(app_repo.path),
            "image_repository": "follower",
            "model": churn_model,
            "rebuild_on_new_model": False,
        },
        actor=manager,
    )
    make_channel("all", events=["model_version_registered"])
    make_channel("follower-only", events=["model_version_registered"], application=follower)
    make_channel(
        "per-environment",
        events=["model_version_registered"],
        environment=environment(follower, "prod", actor=manager),
    )
    info = model_services.VersionInfo(metrics={"auc": 0.9}, filename="model.json")

    with committed():
        model_services.register_uploaded_version(
            churn_model, SimpleUploadedFile("m.json", b"{}"), info, actor=scientist
        )

    bodies = sent(receiver, "model_version_registered")
    assert len(bodies) == 2  # a model version has no environment: the per-environment channel stays quiet
    assert bodies[0]["model_version"] == "churn-model v2" and "scientist" in bodies[0]["summary"]
    assert sorted(Delivery.objects.values_list("channel__name", flat=True)) == ["all", "follower-only"]


def test_filters_choose_the_channels(
    make_channel, receiver, committed, release, application, manager, app_repo
):
    other = build_services.create_application(
        {
            "name": "other",
            "repository_url": str(app_repo.path),
            "image_repository": "other",
            "model": application.model,
            "rebuild_on_new_model": False,
        },
        actor=manager,
    )
    prod = environment(application, "prod", actor=manager)
    make_channel("everything", events=ALL_EVENTS)
    make_channel("this-app", events=["release_failed"], application=application)
    make_channel("this-env", events=["release_failed"], environment=release.environment)
    make_channel("other-app", events=["release_failed"], application=other)
    make_channel("prod-only", events=["release_failed"], environment=prod)
    make_channel("off", events=["release_failed"], enabled=False)
    make_channel("successes", events=["release_succeeded"])

    with committed():
        release_services.transition(release, "failed", actor="job:process_environment", reason="crashed")

    assert sorted(Delivery.objects.values_list("channel__name", flat=True)) == [
        "everything",
        "this-app",
        "this-env",
    ]
    assert len(receiver.received) == 3
