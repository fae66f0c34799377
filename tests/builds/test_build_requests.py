from __future__ import annotations

import socket

import pytest

from builds.models import Build
from core import jobrunner
from core.models import AuditEvent, JobRun
from models_registry import services as model_services
from tests.releases.conftest import run_jobs

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_manager(api, manager):
    api.force_authenticate(manager)
    return api


def test_build_now_answers_at_once_and_the_job_resolves_the_branch_head(as_manager, application, app_repo):
    response = as_manager.post("/api/v1/builds/", {"application": "churn-predictor"}, format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert response["Location"] == f"/api/v1/builds/{body['id']}/"
    assert (body["commit"], body["requested_ref"], body["image_tag"]) == (None, "refs/heads/main", "")
    assert (body["model"], body["model_version"], body["state"]) == ("churn-model", 1, "queued")
    build = Build.objects.get()
    assert JobRun.objects.filter(name="builds.jobs.run_build", args=[build.pk], queue="builds").exists()
    assert AuditEvent.objects.filter(
        action="build.create", object_id=str(build.pk), actor_name="manager"
    ).exists()

    run_jobs("builds.jobs.run_build")

    body = as_manager.get(f"/api/v1/builds/{build.pk}/").json()
    assert (body["commit"], body["state"]) == (app_repo.head, "succeeded"), body["failure_reason"]
    assert body["image_tag"] == f"{app_repo.head[:12]}-m1"
    resolved = AuditEvent.objects.get(action="build.resolved", object_id=str(build.pk))
    assert (resolved.before, resolved.after["commit"]) == ({"commit": None}, app_repo.head)


def test_the_same_inputs_return_the_existing_build(as_manager, application, app_repo):
    first = as_manager.post("/api/v1/builds/", {"application": "churn-predictor", "commit": app_repo.head})
    again = as_manager.post("/api/v1/builds/", {"application": "churn-predictor", "commit": app_repo.head})
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["commit"] == app_repo.head  # a full sha needs no resolving
    # Asking twice for the branch head while the first request still waits: one build.
    head = as_manager.post("/api/v1/builds/", {"application": "churn-predictor"})
    head_again = as_manager.post("/api/v1/builds/", {"application": "churn-predictor"})
    assert (head.status_code, head_again.status_code) == (202, 200)
    assert head.json()["id"] == head_again.json()["id"] != first.json()["id"]
    assert Build.objects.count() == 2


def test_a_build_that_resolves_to_built_inputs_ends_as_a_duplicate(as_manager, application, app_repo):
    first = as_manager.post(
        "/api/v1/builds/", {"application": "churn-predictor", "commit": app_repo.head[:8]}
    )
    second = as_manager.post("/api/v1/builds/", {"application": "churn-predictor"})
    assert (first.status_code, second.status_code) == (202, 202)  # nobody knows yet: same commit

    run_jobs("builds.jobs.run_build")

    kept = as_manager.get(f"/api/v1/builds/{first.json()['id']}/").json()
    duplicate = as_manager.get(f"/api/v1/builds/{second.json()['id']}/").json()
    assert (kept["state"], kept["commit"]) == ("succeeded", app_repo.head)
    assert (duplicate["state"], duplicate["commit"], duplicate["duplicate_of"]) == (
        "cancelled",
        None,
        kept["id"],
    )
    assert duplicate["failure_reason"] == (
        f"duplicate: the head of main is {app_repo.head[:12]}, already built with churn-model v1 by build #{kept['id']}"
    )
    assert Build.objects.filter(commit=app_repo.head).count() == 1
    retry = as_manager.post(f"/api/v1/builds/{duplicate['id']}/retry/")
    assert retry.status_code == 409
    assert f"duplicates build #{kept['id']}" in retry.json()["detail"]


def test_a_chosen_commit_prefix_and_model_version(as_manager, application, app_repo, churn_model, scientist):
    old = app_repo.head
    app_repo.commit("second")
    from tests.fixtures.apps import sample_model_bytes
    from tests.registry.helpers import upload

    model_services.register_uploaded_version(
        churn_model, upload(sample_model_bytes(2)), model_services.VersionInfo(metrics={}), actor=scientist
    )
    response = as_manager.post(
        "/api/v1/builds/",
        {"application": "churn-predictor", "commit": old[:9].upper(), "model_version": 1},
        format="json",
    )
    assert (response.json()["requested_ref"], response.json()["model_version"]) == (old[:9], 1)
    run_jobs("builds.jobs.run_build")
    build = Build.objects.get(pk=response.json()["id"])
    assert (build.commit, build.state) == (old, "succeeded"), build.failure_reason


@pytest.mark.parametrize("commit", ["deadbeef" * 5, "deadbeef1"])
def test_a_commit_the_repository_lacks_fails_the_build_with_the_reason(as_manager, application, commit):
    response = as_manager.post("/api/v1/builds/", {"application": "churn-predictor", "commit": commit})
    assert response.status_code == 202

    run_jobs("builds.jobs.run_build")

    build = Build.objects.get()
    assert build.state == "failed"
    assert f"commit {commit} is not in {application.repository_url}" in build.failure_reason
    assert build.failure_reason in as_manager.get(f"/api/v1/builds/{build.pk}/").json()["failure_reason"]


@pytest.mark.parametrize(
    "commit", ["--upload-pack=touch /tmp/x", "HEAD~1", "xyz", "abc123", "main", "a" * 41, "deadbeef " * 2]
)
def test_a_commit_that_is_not_a_sha_is_refused_in_the_request(as_manager, application, commit):
    response = as_manager.post("/api/v1/builds/", {"application": "churn-predictor", "commit": commit})
    assert response.status_code == 400
    assert "commit" in response.json()["detail"]
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
    assert '<option value="v1"' in form and '<option value="v2"' not in form  # ready versions only
    typed = client.post("/applications/churn-predictor/", {"model_version": "v2", "commit": ""})
    assert "churn-model v2 is pending: its content is still being hashed" in typed.content.decode()

    run_queued()
    ready = as_manager.post("/api/v1/builds/", {"application": "churn-predictor", "model_version": 2})
    assert ready.status_code == 202, ready.json()


def test_unknown_application_and_version_are_404(as_manager, application):
    assert as_manager.post("/api/v1/builds/", {"application": "nope"}).status_code == 404
    assert (
        as_manager.post("/api/v1/builds/", {"application": "churn-predictor", "model_version": 9}).status_code
        == 404
    )


def test_a_missing_repository_fails_the_build_with_the_reason(as_manager, application, tmp_path):
    application.repository_url = str(tmp_path / "gone")
    application.save()
    response = as_manager.post("/api/v1/builds/", {"application": "churn-predictor"})
    assert response.status_code == 202

    run_jobs("builds.jobs.run_build")

    build = Build.objects.get()
    assert build.state == "failed"
    assert "does not exist or is not readable" in build.failure_reason
    assert "== resolving the head of main in" in build.log


def test_an_unreachable_repository_is_retried_then_fails_with_the_reason(as_manager, application, settings):
    settings.JOB_MAX_RETRIES = 1
    with socket.socket() as closed:  # a port nobody listens on: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/team/app.git"
    application.repository_url = url
    application.save()
    build_id = as_manager.post("/api/v1/builds/", {"application": "churn-predictor"}).json()["id"]
    run = JobRun.objects.get(name="builds.jobs.run_build")

    jobrunner.execute(run.pk)  # first attempt: back to the queue, and the page says why
    build = Build.objects.get(pk=build_id)
    assert build.state == "queued"
    assert build.failure_reason.startswith(f"retrying after: git: cannot reach {url}")
    jobrunner.execute(run.pk)  # the last attempt gives up

    build.refresh_from_db()
    assert build.state == "failed"
    assert build.failure_reason.startswith(
        f"gave up after repeated temporary failures: git: cannot reach {url}"
    )


@pytest.mark.parametrize(
    ("role", "allowed"), [("data-scientist", True), ("release-manager", True), ("on-call", False)]
)
def test_who_may_build(api, make_user, application, role, allowed):
    api.force_authenticate(make_user("someone", role))
    response = api.post("/api/v1/builds/", {"application": "churn-predictor"})
    assert response.status_code == (202 if allowed else 403)


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
