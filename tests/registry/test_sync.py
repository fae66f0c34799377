from __future__ import annotations

import io
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from core import adapters, jobrunner
from core.models import AuditEvent, JobRun
from models_registry import jobs, services
from models_registry.models import ModelVersion, RegisteredModel
from tests.registry.helpers import run_queued, sha

pytestmark = pytest.mark.django_db


def publish(store: Any, key: str, content: bytes) -> None:
    store.put(key, io.BytesIO(content), size=len(content), sha256=sha(content))


def run_sync() -> JobRun:
    run = jobrunner.enqueue(jobs.sync_model_store)
    jobrunner.execute(run.pk)
    run.refresh_from_db()
    return run


def sync_and_pin() -> JobRun:
    run = run_sync()
    assert run.status == "succeeded", run.error
    for pin in run_queued():
        assert pin.status == "succeeded", pin.error
    return run


def check_sync_registers_published_files(store: Any) -> None:
    publish(store, "churn/2026-11-01/model.pkl", b"first model")
    publish(store, "churn/2026-11-08/model.pkl", b"second model")
    publish(store, "fraud/v1.onnx", b"fraud model")
    publish(store, "stray-top-level.bin", b"no model folder")
    run = run_sync()
    assert run.status == "succeeded", run.error
    assert run.result["registered"] == 3
    assert any("stray-top-level.bin" in s for s in run.result["skipped"])
    assert set(ModelVersion.objects.values_list("state", flat=True)) == {"pending"}
    assert [r.status for r in run_queued()] == ["succeeded"] * 3
    churn = RegisteredModel.objects.get(name="churn")
    versions = {v.source_key: v for v in churn.versions.all()}
    first = versions["churn/2026-11-01/model.pkl"]
    assert (first.state, first.sha256) == ("ready", sha(b"first model"))
    assert first.storage_key == f"churn/{sha(b'first model')}/model.pkl"  # pinned copy
    assert first.source == "sync" and first.source_etag and first.etag and first.last_modified
    assert (
        AuditEvent.objects.filter(action="model_version.register", actor_name="job:sync_model_store").count()
        == 3
    )
    assert AuditEvent.objects.filter(action="model_version.ready", actor_name="job:pin_version").count() == 3
    # Incremental and idempotent: a second run registers nothing new, the pinned copies included.
    again = run_sync()
    assert (again.result["registered"], again.result["missing"]) == (0, 0)
    assert again.result["already_known"] == 6  # three published objects and their three copies
    # The same content published under another key ends as a duplicate naming the version it repeats.
    publish(store, "churn/copy/model.pkl", b"first model")
    third = sync_and_pin()
    assert third.result["registered"] == 1
    copy = churn.versions.get(source_key="churn/copy/model.pkl")
    assert copy.state == "failed" and copy.state_reason.startswith(f"same content as {first}")
    assert churn.versions.filter(state="ready").count() == 2


def test_sync_registers_files_published_to_the_filesystem_store():
    check_sync_registers_published_files(adapters.model_store())


def test_an_overwritten_file_becomes_a_new_version_and_the_old_one_keeps_its_bytes(
    model_store_root, api, scientist
):
    published = model_store_root / "churn" / "latest" / "model.pkl"
    published.parent.mkdir(parents=True)
    published.write_bytes(b"monday's model")
    sync_and_pin()
    published.write_bytes(b"tuesday's model, larger")  # "the latest model", same name
    sync_and_pin()
    versions = list(ModelVersion.objects.order_by("version"))
    assert [(v.version, v.state, v.sha256) for v in versions] == [
        (1, "ready", sha(b"monday's model")),
        (2, "ready", sha(b"tuesday's model, larger")),
    ]
    api.force_authenticate(scientist)
    old = api.get("/api/v1/models/churn/versions/1/download/")
    assert b"".join(old.streaming_content) == b"monday's model"


@pytest.fixture
def azure_model_store(settings, azure_store, azurite_connection_string):
    """The dashboard's model store pointed at a fresh Azurite container."""
    settings.MODEL_STORE = {
        "kind": "azure",
        "connection_string": azurite_connection_string,
        "account_url": "",
        "container": azure_store.container_name,
        "prefix": azure_store.prefix,
    }
    adapters.clear_caches()
    return adapters.model_store()


@pytest.fixture
def container(azurite_connection_string, azure_store) -> ContainerClient:
    """The container as a data scientist's tools see it (the SDK, no dashboard code)."""
    service = BlobServiceClient.from_connection_string(azurite_connection_string)
    return service.get_container_client(azure_store.container_name)


@pytest.mark.azurite
def test_sync_registers_blobs_published_to_azure(azure_model_store):
    check_sync_registers_published_files(azure_model_store)
    version = ModelVersion.objects.get(source_key="fraud/v1.onnx")
    assert version.content_md5  # recorded from the blob's Content-MD5
    assert version.blob_version_id == ""  # Azurite keeps no blob versions: pinned by a copy


@pytest.mark.azurite
def test_a_blob_overwritten_in_place_registers_a_new_version_and_v1_still_serves_its_bytes(
    azure_model_store, container, api, scientist
):
    blob = container.get_blob_client("models/churn/latest/model.pkl")
    blob.upload_blob(b"v1 weights")
    sync_and_pin()
    blob.upload_blob(b"v2 weights, retrained", overwrite=True)
    run = sync_and_pin()
    assert run.result["registered"] == 1
    v1, v2 = ModelVersion.objects.order_by("version")
    assert (v1.sha256, v2.sha256) == (sha(b"v1 weights"), sha(b"v2 weights, retrained"))
    assert v1.source_key == v2.source_key == "churn/latest/model.pkl"
    assert v1.source_etag != v2.source_etag
    assert v1.storage_key == f"churn/{v1.sha256}/model.pkl" and v1.state == "ready"

    api.force_authenticate(scientist)
    first = api.get("/api/v1/models/churn/versions/1/download/")
    assert b"".join(first.streaming_content) == b"v1 weights"
    assert first["X-Content-SHA256"] == sha(b"v1 weights")
    second = api.get("/api/v1/models/churn/versions/2/download/")
    assert b"".join(second.streaming_content) == b"v2 weights, retrained"


@pytest.mark.azurite
def test_a_download_refuses_bytes_changed_under_a_registered_key(
    azure_model_store, container, api, scientist
):
    """Versions registered before pinning were read from the published key: a rewrite is refused."""
    blob = container.get_blob_client("models/churn/old/model.pkl")
    blob.upload_blob(b"registered bytes")
    sync_and_pin()
    version = ModelVersion.objects.get()
    # What such a version looked like: read from the key it was published under, at its etag.
    ModelVersion.objects.filter(pk=version.pk).update(
        storage_key="churn/old/model.pkl", etag=blob.get_blob_properties().etag.strip('"')
    )
    blob.upload_blob(b"other bytes, same size!", overwrite=True)

    api.force_authenticate(scientist)
    response = api.get("/api/v1/models/churn/versions/1/download/")
    assert response.status_code == 409
    assert "no longer holds the registered bytes of churn v1" in response.json()["detail"]
    assert "has changed" in response.json()["detail"]


@pytest.mark.azurite
def test_a_deleted_blob_shows_as_missing_after_the_sync(azure_model_store, container, api, client, scientist):
    container.get_blob_client("models/churn/a/model.pkl").upload_blob(b"weights")
    sync_and_pin()
    version = ModelVersion.objects.get()
    container.get_blob_client(f"models/{version.storage_key}").delete_blob()

    run = run_sync()
    assert run.result["missing"] == 1
    version.refresh_from_db()
    assert version.state == "missing"
    assert version.state_reason == f"{version.storage_key} was deleted from the model store"
    event = AuditEvent.objects.get(action="model_version.missing")
    assert (event.actor_name, event.before["state"], event.after["state"]) == (
        "job:sync_model_store",
        "ready",
        "missing",
    )
    assert version.is_releasable and not version.is_buildable  # its images still carry the bytes

    client.force_login(scientist)
    page = client.get("/models/churn/versions/1/").content.decode()
    assert "missing" in page and "was deleted from the model store" in page
    api.force_authenticate(scientist)
    download = api.get("/api/v1/models/churn/versions/1/download/")
    assert download.status_code == 404
    assert "churn v1 is missing from the model store" in download.json()["detail"]


@pytest.mark.azurite
def test_a_missing_version_whose_bytes_come_back_is_ready_again(azure_model_store, container):
    container.get_blob_client("models/churn/a/model.pkl").upload_blob(b"weights")
    sync_and_pin()
    version = ModelVersion.objects.get()
    pinned = container.get_blob_client(f"models/{version.storage_key}")
    saved = pinned.download_blob().readall()
    pinned.delete_blob()
    run_sync()
    # Restoring a copy gives a new etag: the sync cannot tell those bytes from others, so it stays missing.
    pinned.upload_blob(saved)
    run = run_sync()
    version.refresh_from_db()
    assert (version.state, run.result["found_again"]) == ("missing", 0)


@pytest.mark.azurite
def test_a_rejected_account_key_fails_the_sync_with_the_reason_on_the_models_page(
    settings, azure_store, azurite_connection_string, client, scientist
):
    from tests.fixtures.azurite import DEVSTORE_KEY

    settings.MODEL_STORE = {
        "kind": "azure",
        "connection_string": azurite_connection_string.replace(DEVSTORE_KEY, "d3Jvbmc=" * 11),
        "account_url": "",
        "container": azure_store.container_name,
        "prefix": "",
    }
    adapters.clear_caches()
    run = jobrunner.enqueue(jobs.sync_model_store, max_attempts=3)
    jobrunner.execute(run.pk)
    run.refresh_from_db()
    assert run.status == "failed" and run.attempts == 1  # not retried: a wrong key stays wrong
    assert run.error.startswith("Azure blob model store: listing '': access denied")
    client.force_login(scientist)
    page = client.get("/models/").content.decode()
    assert "The last model store sync failed" in page and "access denied" in page
    assert f'href="/jobs/{run.pk}/"' in page


@pytest.mark.azurite
def test_a_rejected_account_key_fails_the_pending_version_and_its_job(
    settings, azure_model_store, container, azurite_connection_string, scientist
):
    from tests.fixtures.azurite import DEVSTORE_KEY

    container.get_blob_client("models/churn/a/model.pkl").upload_blob(b"weights")
    model = services.create_model("churn", actor=scientist)
    services.request_referenced_version(model, "churn/a/model.pkl", services.VersionInfo({}), actor=scientist)
    settings.MODEL_STORE = {
        **settings.MODEL_STORE,
        "connection_string": azurite_connection_string.replace(DEVSTORE_KEY, "d3Jvbmc=" * 11),
    }
    adapters.clear_caches()
    [run] = run_queued()
    assert run.status == "failed" and "access denied" in run.error
    version = ModelVersion.objects.get()
    assert version.state == "failed" and "access denied" in version.state_reason


def test_an_unreachable_store_makes_the_sync_retry_then_fail_with_the_reason(settings):
    from tests.fixtures.azurite import devstore_connection_string, free_port

    settings.MODEL_STORE = {
        "kind": "azure",
        "connection_string": devstore_connection_string(free_port()),  # nothing listens there
        "account_url": "",
        "container": "models",
        "prefix": "",
    }
    adapters.clear_caches()
    run = jobrunner.enqueue(jobs.sync_model_store, max_attempts=2)
    jobrunner.execute(run.pk)
    run.refresh_from_db()
    assert run.status == "retrying"
    jobrunner.execute(run.pk)
    run.refresh_from_db()
    assert run.status == "failed"
    assert "gave up after 2 attempt(s)" in run.error and "unreachable" in run.error


def test_an_unreachable_store_leaves_a_version_pending_then_fails_it_after_the_last_attempt(
    settings, scientist
):
    from tests.fixtures.azurite import devstore_connection_string, free_port

    model = services.create_model("churn", actor=scientist)
    services.request_referenced_version(model, "churn/a.pkl", services.VersionInfo({}), actor=scientist)
    settings.MODEL_STORE = {
        "kind": "azure",
        "connection_string": devstore_connection_string(free_port()),
        "account_url": "",
        "container": "models",
        "prefix": "",
    }
    adapters.clear_caches()
    run = JobRun.objects.get(name="models_registry.jobs.pin_version")
    JobRun.objects.filter(pk=run.pk).update(max_attempts=2)
    jobrunner.execute(run.pk)
    version = ModelVersion.objects.get()
    assert version.state == "pending" and version.state_reason.startswith(
        "the model store did not answer; trying again"
    )
    jobrunner.execute(run.pk)
    version.refresh_from_db()
    run.refresh_from_db()
    assert run.status == "failed"
    assert (
        version.state == "failed"
        and "gave up" in version.state_reason
        and "unreachable" in version.state_reason
    )


def test_the_sync_requeues_the_pin_of_a_version_whose_job_was_lost(scientist, model_store_root, settings):
    from datetime import timedelta

    from django.utils import timezone

    model = services.create_model("churn", actor=scientist)
    services.request_referenced_version(model, "churn/a.pkl", services.VersionInfo({}), actor=scientist)
    lost = JobRun.objects.get(name="models_registry.jobs.pin_version")
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_TIMEOUT + 120)
    JobRun.objects.filter(pk=lost.pk).update(status="running", heartbeat_at=long_ago, started_at=long_ago)
    (model_store_root / "churn").mkdir(parents=True)
    (model_store_root / "churn" / "a.pkl").write_bytes(b"weights")

    run_sync()  # lists churn/a.pkl (already pending) and notices the pin job died
    lost.refresh_from_db()
    assert lost.status == "retrying" and lost.error.startswith("attempt 0 lost: worker ")
    assert JobRun.objects.filter(name="models_registry.jobs.pin_version").count() == 1  # retried, not doubled
    jobrunner.execute(lost.pk)
    lost.refresh_from_db()
    assert lost.status == "succeeded" and lost.args == [ModelVersion.objects.get().pk]
    assert ModelVersion.objects.get().state == "ready"
