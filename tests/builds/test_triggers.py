from __future__ import annotations

import pytest

from builds import jobs
from builds.models import Build
from dashboard.models import JobRun
from models_registry import services as model_services
from tests.fixtures.apps import sample_model_bytes
from tests.registry.helpers import upload

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


def test_polling_records_an_unreachable_repository(application, tmp_path):
    application.repository_url = str(tmp_path / "missing-repo")
    application.save()
    results = jobs.poll_repositories()
    application.refresh_from_db()
    assert application.poll_error and application.last_polled_at
    assert not Build.objects.exists()
    assert "missing-repo" in results[0]


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
