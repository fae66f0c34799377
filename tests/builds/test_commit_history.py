"""A succeeded build records the last commits of its history (bounded), for release pages to read."""

from __future__ import annotations

import pytest

from builds.models import Build, BuildCommit
from core import adapters, jobrunner
from core.models import JobRun
from tests.builds.test_azure_devops_builds import ado_application, push_pipeline_image  # noqa: F401
from tests.releases.conftest import run_jobs

pytestmark = pytest.mark.django_db


def build_head(api, manager, **data):
    api.force_authenticate(manager)
    build_id = api.post("/api/v1/builds/", {"application": "churn-predictor", **data}).json()["id"]
    run_jobs("builds.jobs.run_build")
    return Build.objects.get(pk=build_id)


def test_a_build_records_its_whole_short_history_newest_first(api, manager, application, app_repo):
    first = app_repo.head
    second = app_repo.commit("Tune the threshold")
    build = build_head(api, manager)
    assert build.state == "succeeded", build.failure_reason
    assert (build.history_complete, build.history_error) == (True, "")
    assert build.history_recorded_at is not None
    rows = list(build.history.values_list("position", "sha", "author", "subject"))
    assert rows == [(0, second, "Dev", "Tune the threshold"), (1, first, "Dev", "initial commit")]
    assert "== recorded the last 2 commits\n" in build.log


def test_the_list_keeps_only_the_newest_commits(api, manager, application, app_repo, settings):
    settings.BUILD_HISTORY_COMMITS = 3
    commits = [app_repo.commit(f"change {i}") for i in range(4)]
    build = build_head(api, manager)
    assert build.state == "succeeded", build.failure_reason
    assert list(build.history.values_list("sha", flat=True)) == commits[::-1][:3]
    assert build.history_complete is False
    assert "== recorded the last 3 commits (older ones not kept)" in build.log


@pytest.mark.usefixtures("ado_application")
def test_a_history_that_cannot_be_read_leaves_the_image_and_the_reason(
    api, manager, application, app_repo, churn_model, tmp_path
):
    """Azure DevOps builds need no clone; when the worker cannot read the repository, the build
    still succeeds with its image, and the missing list is explained."""
    push_pipeline_image(tmp_path, f"{app_repo.head[:12]}-m1", app_repo, churn_model)
    application.repository_url = str(tmp_path / "moved-away")
    application.save()
    api.force_authenticate(manager)
    build_id = api.post(
        "/api/v1/builds/", {"application": "churn-predictor", "commit": app_repo.head}
    ).json()["id"]
    jobrunner.execute(JobRun.objects.get(name="builds.jobs.run_build").pk)

    build = Build.objects.get(pk=build_id)
    assert build.state == "succeeded", build.failure_reason
    assert build.image is not None
    assert build.history_recorded_at is None
    assert build.history_error.startswith(f"git: cannot reach {tmp_path / 'moved-away'}")
    assert build.history_error.endswith("does not exist")
    assert not BuildCommit.objects.exists()
    assert f"== commit list not recorded: {build.history_error}" in build.log


@pytest.mark.usefixtures("ado_application")
def test_a_worker_without_room_for_the_mirror_still_finishes_the_build(
    api, manager, application, app_repo, churn_model, tmp_path, settings
):
    push_pipeline_image(tmp_path, f"{app_repo.head[:12]}-m1", app_repo, churn_model)
    blocker = tmp_path / "a-regular-file"
    blocker.write_text("")
    settings.GIT_CACHE_DIR = blocker / "git"
    adapters.clear_caches()
    build = build_head(api, manager, commit=app_repo.head)
    assert build.state == "succeeded", build.failure_reason
    assert "Not a directory" in build.history_error


def test_builds_made_before_lists_were_kept_get_theirs_from_a_job(application, app_repo, churn_model):
    from django.core.management import call_command

    first = app_repo.head
    second = app_repo.commit("Second")
    version = churn_model.versions.get()
    old_builds = [
        Build.objects.create(
            application=application, commit=sha, model_version=version, state="succeeded", image_tag=sha[:12]
        )
        for sha in (first, second)
    ]

    call_command("record_commit_histories")
    run_jobs("builds.jobs.record_missing_histories")

    run = JobRun.objects.get(name="builds.jobs.record_missing_histories")
    assert (run.status, run.result) == ("succeeded", {"recorded": 2, "failed": 0})
    for build, expected in zip(old_builds, ([first], [second, first]), strict=True):
        build.refresh_from_db()
        assert build.history_complete and list(build.history.values_list("sha", flat=True)) == expected
    call_command("record_commit_histories")  # nothing left to do
    run_jobs("builds.jobs.record_missing_histories")
    assert JobRun.objects.filter(result={"recorded": 0, "failed": 0}).count() == 1


def test_the_previous_releases_code_can_still_insert_builds(application, churn_model):
    """During a rolling upgrade old web pods insert builds without the new columns."""
    from django.db import connection
    from django.utils import timezone

    columns = {
        "application_id": application.pk,
        "commit": "a" * 40,
        "model_version_id": churn_model.versions.get().pk,
        "state": "queued",
        "trigger": "manual",
        "image_tag": "aaaaaaaaaaaa-m1",
        "external_id": "",
        "external_url": "",
        "failure_reason": "",
        "cancel_requested": False,
        "log": "",
        "attempt": 1,
        "created_at": timezone.now(),
    }
    names = ", ".join(connection.ops.quote_name(name) for name in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO builds_build ({names}) VALUES ({', '.join(['%s'] * len(columns))})",
            list(columns.values()),
        )
    build = Build.objects.get()
    assert (build.requested_ref, build.history_complete, build.history_error) == ("", False, "")
    assert build.requested == f"commit {'a' * 40}"
