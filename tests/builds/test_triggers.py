from __future__ import annotations

import pytest

from builds import jobs
from builds.models import Build
from core import jobrunner
from core.models import JobRun
from models_registry import services as model_services
from tests.fixtures.apps import sample_model_bytes
from tests.registry.helpers import upload
from tests.support import refusing_http

pytestmark = pytest.mark.django_db


def test_polling_builds_a_new_head_once(application, app_repo):
    jobs.poll_repositories()
    first = Build.objects.get()
    assert (first.commit, first.trigger) == (app_repo.head, "commit")
    jobs.poll_repositories()
    assert Build.objects.count() == 1  # nothing new
    commit = app_repo.commit("fix")
    jobs.poll_repositories()
    assert Build.objects.filter(commit=commit, trigger="commit").exists()


def poll_job():
    run = jobrunner.enqueue(jobs.poll_repositories, max_attempts=3)
    jobrunner.execute(run.pk)
    run.refresh_from_db()
    return run


def test_a_missing_repository_fails_the_poll_with_the_reason(application, tmp_path):
    application.repository_url = str(tmp_path / "missing-repo")
    application.save()
    run = poll_job()
    application.refresh_from_db()
    assert application.poll_error and application.last_polled_at
    assert not Build.objects.exists()
    assert run.status == "failed" and "missing-repo" in run.error.splitlines()[0]


def test_a_repository_that_refuses_the_credentials_fails_the_poll_after_the_others(
    application, app_repo, churn_model, client, manager
):
    from builds import services as build_services

    with refusing_http.refusing_server(401) as server:
        url = f"http://127.0.0.1:{server.server_address[1]}/team/fraud.git"
        refused = build_services.create_application(
            {
                "name": "fraud-api",
                "repository_url": url,
                "model": churn_model,
                "image_repository": "fraud-api",
            },
            actor=manager,
        )
        run = poll_job()

    assert (run.status, run.attempts) == ("failed", 1)  # permanent: not retried
    first_line = run.error.splitlines()[0]
    assert first_line.startswith(
        "git poll: 1 of 2 repositories could not be polled: fraud-api: git: access to"
    )
    assert Build.objects.get().application == application  # the other application was still polled
    refused.refresh_from_db()
    assert "was refused" in refused.poll_error
    client.force_login(manager)
    page = client.get("/applications/fraud-api/").content.decode()
    assert "poll failed</span> git: access to" in page


def test_a_new_model_version_queues_a_rebuild(
    application, app_repo, churn_model, scientist, django_capture_on_commit_callbacks
):
    jobs.poll_repositories()  # the app's current commit
    with django_capture_on_commit_callbacks(execute=True):
        version, _ = model_services.register_uploaded_version(
            churn_model,
            upload(sample_model_bytes(2)),
            model_services.VersionInfo(metrics={}),
            actor=scientist,
        )
    run = JobRun.objects.get(name="builds.jobs.build_for_new_model")
    assert run.status == "succeeded", run.error
    rebuild = Build.objects.get(model_version=version)
    assert (rebuild.commit, rebuild.trigger) == (app_repo.head, "model")


def test_no_rebuild_when_the_application_opted_out(
    application, churn_model, scientist, django_capture_on_commit_callbacks
):
    application.rebuild_on_new_model = False
    application.save()
    with django_capture_on_commit_callbacks(execute=True):
        model_services.register_uploaded_version(
            churn_model,
            upload(sample_model_bytes(3)),
            model_services.VersionInfo(metrics={}),
            actor=scientist,
        )
    assert not JobRun.objects.filter(name="builds.jobs.build_for_new_model").exists()
