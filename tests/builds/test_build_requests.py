from __future__ import annotations

import pytest

from builds.models import Build
from dashboard.models import AuditEvent, JobRun
from models_registry import services as model_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_manager(api, manager):
    api.force_authenticate(manager)
    return api


def test_build_now_defaults_to_branch_head_and_latest_model(as_manager, application, app_repo):
    response = as_manager.post("/api/v1/builds/", {"application": "churn-predictor"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["commit"] == app_repo.head
    assert (body["model"], body["model_version"], body["state"]) == ("churn-model", 1, "queued")
    assert body["image_tag"] == f"{app_repo.head[:12]}-m1"
    build = Build.objects.get()
    assert JobRun.objects.filter(name="builds.jobs.run_build", args=[build.pk], queue="builds").exists()
    assert AuditEvent.objects.filter(
        action="build.create", object_id=str(build.pk), actor_name="manager"
    ).exists()


def test_the_same_inputs_return_the_existing_build(as_manager, application, app_repo):
    first = as_manager.post(
        "/api/v1/builds/", {"application": "churn-predictor", "commit": app_repo.head[:8]}
    )
    second = as_manager.post("/api/v1/builds/", {"application": "churn-predictor"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Build.objects.count() == 1


def test_a_chosen_commit_and_model_version(as_manager, application, app_repo, churn_model, scientist):
    old = app_repo.head
    app_repo.commit("second")
    from tests.fixtures.apps import sample_model_bytes
    from tests.registry.helpers import upload

    model_services.register_uploaded_version(
        churn_model, upload(sample_model_bytes(2)), model_services.VersionInfo(metrics={}), actor=scientist
    )
    response = as_manager.post(
        "/api/v1/builds/",
        {"application": "churn-predictor", "commit": old, "model_version": 1},
        format="json",
    )
    assert (response.json()["commit"], response.json()["model_version"]) == (old, 1)


def test_an_unknown_commit_is_a_clear_400(as_manager, application):
    response = as_manager.post(
        "/api/v1/builds/", {"application": "churn-predictor", "commit": "deadbeef" * 5}
    )
    assert response.status_code == 400
    assert "deadbeef" in response.json()["detail"]
    assert not Build.objects.exists()


@pytest.mark.parametrize("commit", ["--upload-pack=touch /tmp/x", "HEAD~1", "xyz"])
def test_something_that_is_not_a_sha_is_refused(as_manager, application, commit):
    response = as_manager.post("/api/v1/builds/", {"application": "churn-predictor", "commit": commit})
    assert response.status_code == 400
    assert not Build.objects.exists()


def test_a_blocked_model_version_cannot_be_built(as_manager, application, churn_model, scientist):
    version = churn_model.versions.get()
    model_services.change_status(version, "blocked", reason="bias", actor=scientist)
    response = as_manager.post("/api/v1/builds/", {"application": "churn-predictor", "model_version": 1})
    assert response.status_code == 409
    assert "blocked" in response.json()["detail"]
    assert not Build.objects.exists()


def test_a_pending_model_version_cannot_be_built_until_it_is_ready(
    as_manager, client, manager, application, churn_model, scientist, model_store_root
):
    from tests.registry.helpers import publish_file, run_queued

    publish_file(model_store_root, "churn-model/next/model.json", b'{"weights": [2]}')
    info = model_services.VersionInfo(metrics={})
    model_services.request_referenced_version(
        churn_model, "churn-model/next/model.json", info, actor=scientist
    )
    pending = as_manager.post("/api/v1/builds/", {"application": "churn-predictor", "model_version": 2})
    assert pending.status_code == 409
    assert pending.json()["detail"] == (
        "churn-model v2 is pending: its content is still being hashed and pinned; it cannot be built."
    )
    latest = as_manager.post("/api/v1/builds/", {"application": "churn-predictor"})
    assert latest.json()["model_version"] == 1  # the newest version that is ready
    client.force_login(manager)
    form = client.get("/applications/churn-predictor/").content.decode()
    assert "v1 (active)" in form and "v2 (active)" not in form  # the form offers ready versions only

    run_queued()
    ready = as_manager.post("/api/v1/builds/", {"application": "churn-predictor", "model_version": 2})
    assert ready.status_code == 201, ready.json()


def test_unknown_application_and_version_are_404(as_manager, application):
    assert as_manager.post("/api/v1/builds/", {"application": "nope"}).status_code == 404
    assert (
        as_manager.post("/api/v1/builds/", {"application": "churn-predictor", "model_version": 9}).status_code
        == 404
    )


def test_an_unreachable_repository_is_a_503(as_manager, application, tmp_path):
    application.repository_url = str(tmp_path / "gone")
    application.save()
    response = as_manager.post("/api/v1/builds/", {"application": "churn-predictor"})
    assert response.status_code == 400
    assert "does not exist or is not readable" in response.json()["detail"]
    assert not Build.objects.exists()


@pytest.mark.parametrize(
    ("role", "allowed"), [("data-scientist", True), ("release-manager", True), ("on-call", False)]
)
def test_who_may_build(api, make_user, application, role, allowed):
    api.force_authenticate(make_user("someone", role))
    response = api.post("/api/v1/builds/", {"application": "churn-predictor"})
    assert response.status_code == (201 if allowed else 403)


def test_cancel_a_queued_build_and_retry_it(as_manager, application):
    build_id = as_manager.post("/api/v1/builds/", {"application": "churn-predictor"}).json()["id"]
    cancelled = as_manager.post(f"/api/v1/builds/{build_id}/cancel/")
    assert cancelled.json()["state"] == "cancelled"
    again = as_manager.post(f"/api/v1/builds/{build_id}/cancel/")
    assert again.status_code == 409
    retried = as_manager.post(f"/api/v1/builds/{build_id}/retry/")
    assert (retried.json()["state"], retried.json()["attempt"]) == ("queued", 2)
    actions = list(
        AuditEvent.objects.filter(object_id=str(build_id), object_type="builds.build").values_list(
            "action", flat=True
        )
    )
    assert set(actions) >= {"build.create", "build.cancelled", "build.queued"}


def test_on_call_cannot_cancel(api, make_user, application, manager):
    api.force_authenticate(manager)
    build_id = api.post("/api/v1/builds/", {"application": "churn-predictor"}).json()["id"]
    api.force_authenticate(make_user("pager", "on-call"))
    assert api.post(f"/api/v1/builds/{build_id}/cancel/").status_code == 403
    assert Build.objects.get().state == "queued"


def test_applications_api_create_validate_and_update(as_manager, churn_model, app_repo):
    body = {
        "name": "app2",
        "repository_url": str(app_repo.path),
        "image_repository": "team/app2",
        "model": "churn-model",
    }
    created = as_manager.post("/api/v1/applications/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["has_webhook_secret"] is False
    duplicate = as_manager.post("/api/v1/applications/", body, format="json")
    assert duplicate.status_code == 409
    bad = as_manager.post(
        "/api/v1/applications/", {**body, "name": "app3", "image_repository": "Bad Repo"}, format="json"
    )
    assert bad.status_code == 400 and "image_repository" in bad.json()["detail"]
    patched = as_manager.patch("/api/v1/applications/app2/", {"default_branch": "release"}, format="json")
    assert patched.json()["default_branch"] == "release"
    event = AuditEvent.objects.get(action="application.update")
    assert (event.before["default_branch"], event.after["default_branch"]) == ("main", "release")
