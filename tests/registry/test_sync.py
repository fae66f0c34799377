from __future__ import annotations

import io
from typing import Any

import pytest

from dashboard import jobrunner
from dashboard.models import AuditEvent, JobRun
from models_registry import jobs, services
from models_registry.models import ModelVersion, RegisteredModel
from tests.registry.helpers import sha

pytestmark = pytest.mark.django_db


def publish(store: Any, key: str, content: bytes) -> None:
    store.put(key, io.BytesIO(content), size=len(content), sha256=sha(content))


def run_sync() -> JobRun:
    run = jobrunner.enqueue(jobs.sync_model_store)
    jobrunner.execute(run.pk)
    run.refresh_from_db()
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
    churn = RegisteredModel.objects.get(name="churn")
    versions = {v.storage_key: v for v in churn.versions.all()}
    first = versions["churn/2026-11-01/model.pkl"]
    assert first.sha256 == sha(b"first model")
    assert first.source == "sync" and first.etag and first.last_modified
    assert (
        AuditEvent.objects.filter(action="model_version.register", actor_name="job:sync_model_store").count()
        == 3
    )
    # Incremental and idempotent: a second run registers nothing new.
    again = run_sync()
    assert again.result["registered"] == 0
    assert again.result["already_known"] == 3  # the stray top-level file is skipped, not known
    # The same content published under another key maps to the existing version.
    publish(store, "churn/copy/model.pkl", b"first model")
    third = run_sync()
    assert third.result["registered"] == 0
    assert ModelVersion.objects.filter(model=churn).count() == 2


def test_sync_registers_files_published_to_the_filesystem_store():
    check_sync_registers_published_files(services.get_store())


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
    services.get_store.cache_clear()
    return services.get_store()


@pytest.mark.azurite
def test_sync_registers_blobs_published_to_azure(azure_model_store):
    check_sync_registers_published_files(azure_model_store)
    version = ModelVersion.objects.get(storage_key="fraud/v1.onnx")
    assert version.content_md5  # recorded from the blob's Content-MD5
    assert version.blob_version_id == ""  # Azurite keeps no blob versions


@pytest.mark.azurite
def test_upload_and_download_through_the_api_on_azure(azure_model_store, api, scientist):
    services.create_model("churn", actor=scientist)
    api.force_authenticate(scientist)
    content = b"model on blob storage" * 1000
    from tests.registry.helpers import post_version

    body = post_version(api, "churn", content).json()
    assert body["sha256"] == sha(content)
    assert body["content_md5"]
    download = api.get("/api/v1/models/churn/versions/1/download/")
    assert b"".join(download.streaming_content) == content


def test_an_unreachable_store_makes_the_sync_retry_then_fail_with_the_reason(settings):
    from tests.fixtures.azurite import devstore_connection_string, free_port

    settings.MODEL_STORE = {
        "kind": "azure",
        "connection_string": devstore_connection_string(free_port()),  # nothing listens there
        "account_url": "",
        "container": "models",
        "prefix": "",
    }
    services.get_store.cache_clear()
    run = jobrunner.enqueue(jobs.sync_model_store, max_attempts=2)
    jobrunner.execute(run.pk)
    run.refresh_from_db()
    assert run.status == "retrying"
    jobrunner.execute(run.pk)
    run.refresh_from_db()
    assert run.status == "failed"
    assert "gave up after 2 attempt(s)" in run.error and "unreachable" in run.error
