"""Builds on Azure DevOps: queued once, polled, logs copied, image found in the registry by its tag."""

from __future__ import annotations

import pytest

from builds.models import Build
from core import adapters, jobrunner
from core.models import JobRun
from tests.builds.images import labelled_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def ado_application(application, ado_double, settings):
    settings.AZURE_DEVOPS = {
        "organization_url": ado_double.org_url,
        "project": ado_double.project,
        "definition_id": ado_double.definition_id,
        "pat": ado_double.pat,
    }
    adapters.clear_caches()
    ado_double.control("PATCH", "config", {"queue_delay": 0.2, "run_duration": 1.0})
    application.build_service = "azure-devops"
    application.save()
    return application


def request_and_run(api, manager):
    api.force_authenticate(manager)
    build_id = api.post("/api/v1/builds/", {"application": "churn-predictor"}).json()["id"]
    run = JobRun.objects.get(name="builds.jobs.run_build", args=[build_id])
    jobrunner.execute(run.pk)
    run.refresh_from_db()
    return Build.objects.get(pk=build_id), run


def push_pipeline_image(tmp_path, build_tag, app_repo, churn_model):
    """What the pipeline's push step does: the image with our labels, under the requested tag."""
    version = churn_model.versions.get()
    image = labelled_image(
        tmp_path / "pipeline", commit=app_repo.head, model="churn-model", version=1, sha256=version.sha256
    )
    return adapters.registry().push_image("churn-predictor", build_tag, image)


def test_a_successful_pipeline_run_records_the_image(
    api, manager, ado_application, ado_double, app_repo, churn_model, tmp_path
):
    pushed = push_pipeline_image(tmp_path, f"{app_repo.head[:12]}-m1", app_repo, churn_model)
    build, run = request_and_run(api, manager)
    assert build.state == "succeeded", (build.failure_reason, build.log)
    assert run.status == "succeeded"
    assert build.external_id and build.external_url.startswith("http")
    assert build.image.digest == pushed.digest
    assert (build.image.commit, build.image.model_version.version) == (app_repo.head, 1)
    assert f"== azure_devops run {build.external_id}: {build.external_url}" in build.log
    queued = ado_double.requests("POST", r"/_apis/build/builds")
    assert len(queued) == 1
    params = queued[0]["body"]["templateParameters"]
    assert params["commit"] == app_repo.head
    assert params["modelSha256"] == churn_model.versions.get().sha256
    assert params["dashboardBuildId"] == str(build.pk)


def test_a_failed_pipeline_run_fails_the_build_with_the_reason(api, manager, ado_application, ado_double):
    ado_double.force_outcome("failed")
    build, _ = request_and_run(api, manager)
    assert build.state == "failed"
    assert (
        "Run script: Bash exited with code '1'." in build.failure_reason
    )  # the failing step, from the timeline
    assert build.image is None


def test_a_retried_job_picks_up_the_run_it_already_queued(
    api, manager, ado_application, ado_double, app_repo, churn_model, tmp_path
):
    push_pipeline_image(tmp_path, f"{app_repo.head[:12]}-m1", app_repo, churn_model)
    ado_double.add_fault(method="GET", path_regex=r"/_apis/build/builds/\d+$", status=503, count=1)
    build, run = request_and_run(api, manager)
    assert build.state == "queued" and run.status == "retrying"  # back in the queue after the 503
    jobrunner.execute(run.pk)
    build.refresh_from_db()
    assert build.state == "succeeded", build.failure_reason
    assert len(ado_double.requests("POST", r"/_apis/build/builds")) == 1  # never queued twice


def test_a_missing_configuration_fails_with_the_variable_names(api, manager, ado_application, settings):
    settings.AZURE_DEVOPS = {**settings.AZURE_DEVOPS, "pat": ""}
    adapters.clear_caches()
    build, _ = request_and_run(api, manager)
    assert build.state == "failed"
    assert "AZURE_DEVOPS_PAT" in build.failure_reason
