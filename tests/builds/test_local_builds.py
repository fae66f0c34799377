"""Builds on the embedded default: the local builder runs the app's tests and pushes a real image."""

from __future__ import annotations

import pytest

from builds.models import Build, ImageTag
from core import adapters, jobrunner
from core.models import AuditEvent, JobRun
from integrations.errors import NotFound
from integrations.images import labels

pytestmark = pytest.mark.django_db


def pushed_tags(repository="churn-predictor"):
    try:
        return list(adapters.registry().list_tags(repository))
    except NotFound:
        return []


def build_and_run(api, manager, **data):
    api.force_authenticate(manager)
    response = api.post("/api/v1/builds/", {"application": "churn-predictor", **data}, format="json")
    build_id = response.json()["id"]
    run = JobRun.objects.get(name="builds.jobs.run_build", args=[build_id])
    jobrunner.execute(run.pk)
    return Build.objects.select_related("image").get(pk=build_id)


def test_build_now_runs_the_tests_and_produces_a_labelled_image(
    api, manager, application, app_repo, churn_model
):
    build = build_and_run(api, manager)
    assert build.state == "succeeded", (build.failure_reason, build.log[-2000:])
    assert "Ran " in build.log and "OK" in build.log  # the app's unittest output, streamed
    image = build.image
    version = churn_model.versions.get()
    assert image.digest.startswith("sha256:")
    assert (image.commit, image.model_version, image.source) == (app_repo.head, version, "build")
    assert image.labels[labels.MODEL_SHA256] == version.sha256
    assert ImageTag.objects.get(tag=build.image_tag).image == image
    config = adapters.registry().get_config("churn-predictor", image.digest)
    assert config.entrypoint == ["python3", "serve.py"]
    assert config.env["MODEL_VERSION"] == "1" and config.env["MODEL_PATH"] == "/model/churn-model.json"
    assert 8080 in config.exposed_ports
    states = list(
        AuditEvent.objects.filter(object_type="builds.build", object_id=str(build.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert states == ["build.create", "build.running", "build.resolved", "build.succeeded"]
    detail = api.get(f"/api/v1/builds/{build.pk}/").json()
    assert detail["image"]["digest"] == image.digest
    log = api.get(f"/api/v1/builds/{build.pk}/log/", {"offset": 10}).json()
    assert log["next_offset"] == len(build.log) and log["state"] == "succeeded"


def test_failing_tests_fail_the_build_and_push_nothing(api, manager, application, app_repo):
    app_repo.commit(
        "break a test",
        {
            "tests/test_broken.py": "import unittest\n\nclass T(unittest.TestCase):\n    def test_it(self):\n        self.fail('boom')\n"
        },
    )
    build = build_and_run(api, manager)
    assert build.state == "failed"
    assert "tests failed" in build.failure_reason
    assert "boom" in build.log
    assert build.image is None
    assert pushed_tags() == []


def test_a_model_whose_content_changed_in_the_store_fails_the_build(
    api, manager, application, churn_model, model_store_root
):
    version = churn_model.versions.get()
    (model_store_root / version.storage_key).write_bytes(b"tampered")
    build = build_and_run(api, manager)
    assert build.state == "failed"
    assert "sha256" in build.failure_reason
    assert pushed_tags() == []


def test_an_unreachable_registry_is_retried_then_fails(api, manager, application, settings, tmp_path):
    settings.IMAGE_REGISTRY = {**settings.IMAGE_REGISTRY, "kind": "distribution", "url": "http://127.0.0.1:9"}
    adapters.clear_caches()
    api.force_authenticate(manager)
    build_id = api.post("/api/v1/builds/", {"application": "churn-predictor"}).json()["id"]
    run = JobRun.objects.get(name="builds.jobs.run_build", args=[build_id])
    JobRun.objects.filter(pk=run.pk).update(max_attempts=2)
    jobrunner.execute(run.pk)
    build = Build.objects.get(pk=build_id)
    assert build.state == "queued" and "retrying" in build.failure_reason
    jobrunner.execute(run.pk)
    build.refresh_from_db()
    run.refresh_from_db()
    assert build.state == "failed"
    assert "gave up" in build.failure_reason
    assert run.status == "succeeded"  # the job ended cleanly; the build carries the failure


def test_the_build_page_shows_state_and_log(client, manager, api, application):
    build = build_and_run(api, manager)
    client.force_login(manager)
    page = client.get(f"/builds/{build.pk}/").content.decode()
    assert build.image.digest in page and "succeeded" in page
    partial = client.get(f"/builds/{build.pk}/log/", {"offset": 0}, HTTP_HX_REQUEST="true").content.decode()
    assert "Ran " in partial


def test_a_stalled_build_is_requeued(application, manager, api):
    from datetime import timedelta

    from django.utils import timezone

    from builds import jobs

    api.force_authenticate(manager)
    build_id = api.post("/api/v1/builds/", {"application": "churn-predictor"}).json()["id"]
    Build.objects.filter(pk=build_id).update(
        state="running", heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert jobs.recover_stalled_builds() == [build_id]
    assert Build.objects.get(pk=build_id).state == "queued"
    assert JobRun.objects.filter(name="builds.jobs.run_build", args=[build_id]).count() == 2
