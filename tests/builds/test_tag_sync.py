from __future__ import annotations

import pytest
import requests

from builds import jobs
from builds.models import Image, ImageTag
from core import adapters
from core.models import AuditEvent
from tests.builds.images import labelled_image

pytestmark = pytest.mark.django_db


def push(tmp_path, tag, *, commit, version, sha256, model="churn-model", salt=""):
    image = labelled_image(
        tmp_path / f"img-{tag}", commit=commit, model=model, version=version, sha256=sha256, salt=salt
    )
    return adapters.registry().push_image("churn-predictor", tag, image)


def check_tag_sync(tmp_path, application, app_repo, churn_model):
    version = churn_model.versions.get()
    first = push(tmp_path, "ci-101", commit=app_repo.head, version=1, sha256=version.sha256)
    push(tmp_path, "latest", commit=app_repo.head, version=1, sha256=version.sha256)  # same image, second tag
    push(tmp_path, "ci-102", commit="0" * 40, version=7, sha256="f" * 64, salt="x")  # model not registered
    report = jobs.sync_image_tags()
    assert (report["tags_new"], report["images_new"]) == (3, 2)
    linked = Image.objects.get(digest=first.digest)
    assert (linked.commit, linked.model_version, linked.source) == (app_repo.head, version, "sync")
    assert linked.application == application
    assert set(linked.tags.values_list("tag", flat=True)) == {"ci-101", "latest"}
    orphan = Image.objects.exclude(digest=first.digest).get()
    assert orphan.model_version is None and "not registered" in orphan.lineage_problem
    assert AuditEvent.objects.filter(action="image.record", actor_name="job:sync_image_tags").count() == 2
    # Incremental: nothing changed, nothing new.
    again = jobs.sync_image_tags()
    assert (again["tags_new"], again["images_new"], again["tags_moved"]) == (0, 0, 0)
    return version


def test_tag_sync_links_images_pushed_outside_the_product(tmp_path, application, app_repo, churn_model):
    version = check_tag_sync(tmp_path, application, app_repo, churn_model)
    # A moved tag is followed (the OCI layout lists tags with digests).
    moved = push(tmp_path, "latest", commit=app_repo.head, version=1, sha256=version.sha256, salt="rebuilt")
    report = jobs.sync_image_tags()
    assert report["tags_moved"] == 1
    assert ImageTag.objects.get(tag="latest").image.digest == moved.digest


@pytest.mark.parametrize("label", ["\u00b2", "99999999999999999999", "-1", "1.0"])
def test_an_image_with_a_version_label_that_is_no_version_is_kept_with_the_reason(
    tmp_path, application, app_repo, churn_model, label
):
    push(tmp_path, "odd", commit=app_repo.head, version=label, sha256=churn_model.versions.get().sha256)
    assert jobs.sync_image_tags()["images_new"] == 1
    image = Image.objects.get()
    assert image.model_version is None and image.commit == app_repo.head
    assert image.lineage_problem == f"model version label {label!r} is not a version number"


@pytest.mark.registry
def test_tag_sync_against_the_distribution_registry(
    tmp_path, settings, distribution_registry_url, application, app_repo, churn_model
):
    settings.IMAGE_REGISTRY = {
        **settings.IMAGE_REGISTRY,
        "kind": "distribution",
        "url": distribution_registry_url,
    }
    adapters.clear_caches()
    application.image_repository = f"sync-{tmp_path.name.lower()[-20:]}".replace("_", "-")
    application.save()
    version = churn_model.versions.get()
    registry = adapters.registry()
    image = labelled_image(
        tmp_path / "i", commit=app_repo.head, model="churn-model", version=1, sha256=version.sha256
    )
    ref = registry.push_image(application.image_repository, "v1", image)
    report = jobs.sync_image_tags()
    assert (report["tags_new"], report["images_new"]) == (1, 1)
    assert Image.objects.get(digest=ref.digest).model_version == version


def test_the_image_and_version_pages_show_lineage(
    client, scientist, tmp_path, application, app_repo, churn_model
):
    check_tag_sync(tmp_path, application, app_repo, churn_model)
    client.force_login(scientist)
    image = Image.objects.exclude(model_version=None).get()
    page = client.get(f"/images/{image.pk}/").content.decode()
    assert image.digest in page and app_repo.head in page and "churn-model v1" in page
    version_page = client.get("/models/churn-model/versions/1/").content.decode()
    assert image.digest[:18] in version_page
    api = client.get("/api/v1/images/", {"model": "churn-model", "model_version": 1}).json()
    assert [i["digest"] for i in api["results"]] == [image.digest]


def acr_registry_settings(settings, acr_double, password):
    from tests.fixtures.registry import ACR_ADMIN

    settings.IMAGE_REGISTRY = {
        **settings.IMAGE_REGISTRY,
        "kind": "acr",
        "endpoint": acr_double.endpoint,
        "username": ACR_ADMIN[0],
        "password": password,
    }
    adapters.clear_caches()


def run_tag_sync():
    from core import jobrunner

    run = jobrunner.enqueue(jobs.sync_image_tags, max_attempts=3)
    jobrunner.execute(run.pk)
    run.refresh_from_db()
    return run


def test_a_rejected_registry_password_fails_the_tag_sync_where_people_look(
    settings, acr_double, application, client, manager
):
    acr_registry_settings(settings, acr_double, password="not-the-password")
    run = run_tag_sync()
    assert (run.status, run.attempts) == ("failed", 1)  # permanent: not retried
    reason = (
        "Azure Container Registry: tags of churn-predictor: admin user or password rejected "
        "(check credentials and AcrPull role)"
    )
    assert run.error.splitlines()[0] == reason
    assert run.result is None

    client.force_login(manager)
    shown = f"The last registry tag sync failed at {run.finished_at:%Y-%m-%d %H:%M}: {reason}"
    for url in ("/images/", "/applications/churn-predictor/"):
        page = client.get(url).content.decode()
        assert shown.replace("(", "(") in page, url
        assert f'href="/jobs/{run.pk}/"' in page
    assert (
        reason in client.get("/jobs/").content.decode()[:100000]
        or reason[:100] in client.get("/jobs/").content.decode()
    )


def test_a_registry_that_forbids_reading_tags_fails_the_tag_sync(settings, acr_double, application):
    from tests.fixtures.registry import ACR_ADMIN

    acr_registry_settings(settings, acr_double, password=ACR_ADMIN[1])
    requests.post(
        f"{acr_double.endpoint}/_double/faults",
        json={"method": "GET", "path_regex": "^/acr/v1/", "status": 403},
        timeout=5,
    ).raise_for_status()
    run = run_tag_sync()
    assert (run.status, run.attempts) == ("failed", 1)
    assert run.error.startswith("Azure Container Registry: tags of churn-predictor: HTTP 403")


def test_a_registry_outage_is_retried_and_a_later_success_clears_the_page(
    settings, acr_double, application, client, manager
):
    from tests.fixtures.registry import ACR_ADMIN

    acr_registry_settings(settings, acr_double, password="not-the-password")
    run_tag_sync()
    acr_registry_settings(settings, acr_double, password=ACR_ADMIN[1])
    requests.post(
        f"{acr_double.endpoint}/_double/faults",
        json={"method": "GET", "path_regex": "^/acr/v1/", "status": 503, "count": 1},
        timeout=5,
    ).raise_for_status()
    run = run_tag_sync()
    assert run.status == "retrying"
    from core import jobrunner

    jobrunner.execute(run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    client.force_login(manager)
    assert "The last registry tag sync failed" not in client.get("/images/").content.decode()
