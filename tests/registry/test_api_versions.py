from __future__ import annotations

from urllib.parse import quote

import pytest

from core import adapters
from core.models import AuditEvent
from models_registry import services
from models_registry.models import ModelVersion, RegisteredModel
from tests.registry.helpers import post_version, publish_file, run_queued, sha, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def churn(scientist):
    return services.create_model("churn", actor=scientist)


@pytest.fixture
def as_scientist(api, scientist, churn):
    api.force_authenticate(scientist)
    return api


def test_it_registers_an_upload_with_sha256_size_and_metrics(as_scientist, model_store_root):
    content = b"weights" * 1000
    response = post_version(
        as_scientist, "churn", content, metrics='{"auc": 0.91, "rows": 1200}', framework="sklearn"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"] == 1
    assert body["sha256"] == sha(content)
    assert body["size"] == len(content)
    assert body["metrics"] == {"auc": 0.91, "rows": 1200}
    assert body["framework"] == "sklearn"
    stored = model_store_root / body["storage_key"]
    assert stored.read_bytes() == content


def test_versions_are_numbered_one_two_three(as_scientist):
    numbers = [post_version(as_scientist, "churn", f"v{i}".encode()).json()["version"] for i in range(3)]
    assert numbers == [1, 2, 3]


def test_registering_identical_content_returns_the_existing_version(as_scientist):
    first = post_version(as_scientist, "churn", b"same")
    second = post_version(as_scientist, "churn", b"same", metrics='{"auc": 0.5}')
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["version"] == first.json()["version"] == 1
    assert second.json()["metrics"] == {}  # content is immutable: nothing was overwritten
    assert ModelVersion.objects.count() == 1
    assert AuditEvent.objects.filter(action="model_version.register").count() == 1


def test_it_registers_an_object_already_in_the_store_through_a_worker(as_scientist, model_store_root):
    publish_file(model_store_root, "churn/published/model.pkl", b"published by a data scientist")
    response = as_scientist.post(
        "/api/v1/models/churn/versions/", {"key": "churn/published/model.pkl"}, format="json"
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["version"], body["state"], body["sha256"], body["size"]) == (1, "pending", "", None)
    assert (body["source"], body["source_key"], body["filename"]) == (
        "reference",
        "churn/published/model.pkl",
        "model.pkl",
    )
    assert response["Location"] == body["url"]
    model = as_scientist.get("/api/v1/models/churn/").json()
    assert (model["version_count"], model["latest_version"]) == (1, None)  # nothing buildable yet

    [run] = run_queued()
    assert run.status == "succeeded", run.error
    detail = as_scientist.get(body["url"]).json()
    digest = sha(b"published by a data scientist")
    assert (detail["state"], detail["sha256"], detail["size"]) == ("ready", digest, 29)
    # The bytes were copied to a key named by their digest, which the publisher does not write to.
    assert detail["storage_key"] == f"churn/{digest}/model.pkl"
    assert (model_store_root / detail["storage_key"]).read_bytes() == b"published by a data scientist"
    assert detail["source_etag"] and detail["etag"]
    assert as_scientist.get("/api/v1/models/churn/").json()["latest_version"] == 1
    version = ModelVersion.objects.get()
    events = AuditEvent.objects.filter(object_type="models_registry.modelversion", object_id=str(version.pk))
    events = events.order_by("id")
    assert [(e.action, e.actor_name) for e in events] == [
        ("model_version.register", "scientist"),
        ("model_version.ready", "job:pin_version"),
    ]
    assert (events[1].before["state"], events[1].after["state"]) == ("pending", "ready")


def test_registering_by_key_never_reads_the_store_in_the_request(as_scientist, settings):
    from tests.fixtures.azurite import devstore_connection_string, free_port

    settings.MODEL_STORE = {
        "kind": "azure",
        "connection_string": devstore_connection_string(free_port()),  # nothing listens there
        "account_url": "",
        "container": "models",
        "prefix": "",
    }
    adapters.clear_caches()
    response = as_scientist.post("/api/v1/models/churn/versions/", {"key": "churn/model.pkl"}, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["state"] == "pending"
    [run] = run_queued()  # the worker does the reading, and finds the store unreachable
    assert run.status == "retrying" and "unreachable" in run.error
    version = ModelVersion.objects.get()
    assert version.state == "pending" and "unreachable" in version.state_reason


def test_naming_a_key_again_while_it_is_pending_answers_the_same_version(as_scientist):
    first = as_scientist.post("/api/v1/models/churn/versions/", {"key": "churn/a.pkl"}, format="json")
    again = as_scientist.post("/api/v1/models/churn/versions/", {"key": "churn/a.pkl"}, format="json")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["version"] == first.json()["version"] == 1
    assert ModelVersion.objects.count() == 1


def test_a_pending_version_can_be_neither_downloaded_nor_built(as_scientist, manager, api):
    as_scientist.post("/api/v1/models/churn/versions/", {"key": "churn/a.pkl"}, format="json")
    download = as_scientist.get("/api/v1/models/churn/versions/1/download/")
    assert download.status_code == 409
    assert "pending" in download.json()["detail"]
    version = ModelVersion.objects.get()
    assert not version.is_buildable and not version.is_releasable
    assert "still being hashed" in version.unusable_reason()


def test_registering_content_that_already_is_a_version_by_key_fails_as_a_duplicate(
    as_scientist, model_store_root
):
    post_version(as_scientist, "churn", b"same bytes")
    publish_file(model_store_root, "churn/copy/model.pkl", b"same bytes")
    as_scientist.post("/api/v1/models/churn/versions/", {"key": "churn/copy/model.pkl"}, format="json")
    [run] = run_queued()
    assert run.status == "succeeded" and "duplicates churn v1" in run.result
    body = as_scientist.get("/api/v1/models/churn/versions/2/").json()
    assert body["state"] == "failed"
    assert body["state_reason"] == f"same content as churn v1 (sha256 {sha(b'same bytes')}); use churn v1"
    # The duplicate's own copy is removed again; v1's upload stays.
    assert sorted(
        p.relative_to(model_store_root).as_posix() for p in model_store_root.rglob("*") if p.is_file()
    ) == [
        f"churn/{sha(b'same bytes')}/model.bin",
        "churn/copy/model.pkl",
    ]


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ("[1, 2]", "JSON object"),
        ('{"auc": "high"}', "finite number"),
        ('{"auc": true}', "finite number"),
        ("{not json", "valid JSON"),
        ('{"auc": {"nested": 1}}', "finite number"),
    ],
)
def test_bad_metrics_are_refused_and_leave_nothing_behind(as_scientist, model_store_root, metrics, message):
    response = post_version(as_scientist, "churn", b"content", metrics=metrics)
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not ModelVersion.objects.exists()
    assert not any(p.is_file() for p in model_store_root.rglob("*"))


def test_an_empty_file_is_refused(as_scientist, model_store_root):
    response = post_version(as_scientist, "churn", b"")
    assert response.status_code == 400
    assert "empty" in response.json()["detail"]
    assert not ModelVersion.objects.exists()


def test_it_needs_exactly_one_of_file_or_key(as_scientist):
    neither = as_scientist.post("/api/v1/models/churn/versions/", {"framework": "x"}, format="multipart")
    both = as_scientist.post(
        "/api/v1/models/churn/versions/", {"file": upload(), "key": "churn/x"}, format="multipart"
    )
    assert neither.status_code == both.status_code == 400
    assert "exactly one" in str(both.json())


def test_a_mismatching_expected_sha256_is_refused(as_scientist):
    response = post_version(as_scientist, "churn", b"content", sha256="0" * 64)
    assert response.status_code == 400
    assert "does not match" in response.json()["detail"]
    assert not ModelVersion.objects.exists()


def test_an_unknown_model_gives_404_and_stores_nothing(as_scientist, model_store_root):
    response = post_version(as_scientist, "nope", b"content")
    assert response.status_code == 404
    assert not any(p.is_file() for p in model_store_root.rglob("*"))


def test_a_key_with_no_object_fails_the_pending_version_and_its_job_with_the_reason(as_scientist):
    response = as_scientist.post(
        "/api/v1/models/churn/versions/", {"key": "churn/missing.bin"}, format="json"
    )
    assert response.status_code == 202
    [run] = run_queued()
    assert run.status == "failed" and "missing.bin" in run.error
    body = as_scientist.get("/api/v1/models/churn/versions/1/").json()
    assert body["state"] == "failed"
    assert "no object 'churn/missing.bin'" in body["state_reason"]


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/path", "churn/../../x", "churn/\x01"])
def test_a_key_escaping_the_store_is_refused(as_scientist, key):
    response = as_scientist.post("/api/v1/models/churn/versions/", {"key": key}, format="json")
    assert response.status_code == 400
    assert "invalid object key" in response.json()["detail"]


def test_an_unreachable_store_gives_503_with_the_reason(as_scientist, settings, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the store's folder should be")
    settings.MODEL_STORE = {**settings.MODEL_STORE, "path": str(blocker / "models")}
    adapters.clear_caches()
    response = post_version(as_scientist, "churn", b"content")
    assert response.status_code == 503
    assert "unreachable" in response.json()["detail"]
    assert not ModelVersion.objects.exists()


def test_download_streams_the_exact_content(as_scientist):
    content = b"x" * (5 * 1024 * 1024 + 17)
    post_version(as_scientist, "churn", content)
    response = as_scientist.get("/api/v1/models/churn/versions/1/download/")
    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == content
    assert response["X-Content-SHA256"] == sha(content)


def test_version_list_and_detail(as_scientist):
    post_version(as_scientist, "churn", b"one")
    post_version(as_scientist, "churn", b"two")
    listed = as_scientist.get("/api/v1/models/churn/versions/").json()
    assert [v["version"] for v in listed["results"]] == [2, 1]
    detail = as_scientist.get("/api/v1/models/churn/versions/2/").json()
    assert detail["sha256"] == sha(b"two")
    assert as_scientist.get("/api/v1/models/churn/versions/9/").status_code == 404


class TestStatus:
    def test_deprecate_then_reactivate_is_audited_with_before_and_after(self, as_scientist):
        post_version(as_scientist, "churn", b"one")
        url = "/api/v1/models/churn/versions/1/"
        assert (
            as_scientist.patch(url, {"status": "deprecated"}, format="json").json()["status"] == "deprecated"
        )
        assert as_scientist.patch(url, {"status": "active"}, format="json").json()["status"] == "active"
        events = list(AuditEvent.objects.filter(action="model_version.status").order_by("id"))
        assert [(e.before["status"], e.after["status"]) for e in events] == [
            ("active", "deprecated"),
            ("deprecated", "active"),
        ]

    def test_blocking_needs_a_reason(self, as_scientist):
        post_version(as_scientist, "churn", b"one")
        response = as_scientist.patch(
            "/api/v1/models/churn/versions/1/", {"status": "blocked"}, format="json"
        )
        assert response.status_code == 400
        assert "reason" in response.json()["detail"]
        assert ModelVersion.objects.get().status == "active"

    def test_blocked_is_final(self, as_scientist):
        post_version(as_scientist, "churn", b"one")
        url = "/api/v1/models/churn/versions/1/"
        blocked = as_scientist.patch(url, {"status": "blocked", "status_reason": "leaks PII"}, format="json")
        assert blocked.json()["status_reason"] == "leaks PII"
        response = as_scientist.patch(url, {"status": "active"}, format="json")
        assert response.status_code == 409
        version = ModelVersion.objects.get()
        assert version.status == "blocked"
        assert not version.is_releasable

    def test_an_unknown_status_is_a_400(self, as_scientist):
        post_version(as_scientist, "churn", b"one")
        response = as_scientist.patch("/api/v1/models/churn/versions/1/", {"status": "gone"}, format="json")
        assert response.status_code == 400


def test_content_fields_cannot_be_changed_once_registered(as_scientist):
    from django.core.exceptions import ValidationError

    post_version(as_scientist, "churn", b"one")
    version = ModelVersion.objects.get()
    version.sha256 = "0" * 64
    with pytest.raises(ValidationError):
        version.save()


def test_models_page_query_count_does_not_grow_with_rows(as_scientist, django_assert_max_num_queries):
    for i in range(3):
        services.create_model(f"m{i}", actor="test")
    post_version(as_scientist, "churn", b"one")
    with django_assert_max_num_queries(6):
        as_scientist.get("/api/v1/models/")
    for i in range(3, 30):
        services.create_model(f"m{i}", actor="test")
    with django_assert_max_num_queries(6):
        assert as_scientist.get("/api/v1/models/").status_code == 200
    assert RegisteredModel.objects.count() == 31


def test_the_openapi_schema_documents_the_pending_answer_of_registering_by_key(as_scientist):
    schema = as_scientist.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    post = schema["paths"]["/api/v1/models/{name}/versions/"]["post"]
    assert {code for code in post["responses"] if code < "300"} == {"200", "201", "202"}
    assert {"400", "404", "413", "503"} <= set(post["responses"])  # its errors, with the Error schema
    assert "pending" in post["responses"]["202"]["description"]
    assert {"multipart/form-data", "application/json"} <= set(post["requestBody"]["content"])
    components = schema["components"]["schemas"]
    version = components["ModelVersion"]["properties"]
    assert version["state"]["allOf"] == [{"$ref": "#/components/schemas/ModelVersionStateEnum"}]
    assert components["ModelVersionStateEnum"]["enum"] == ["pending", "ready", "failed", "missing"]
    assert {"state_reason", "source_key", "source_etag"} <= set(version)


@pytest.mark.parametrize(
    ("sent", "stored", "plain"),
    [
        ('x\\"; filename=evil.exe', 'x"; filename=evil.exe', "x_filename_evil.exe"),
        ("modèle v2.pkl", "modèle v2.pkl", "mod_le_v2.pkl"),
    ],
)
def test_a_download_names_the_file_without_letting_the_name_add_parameters(as_scientist, sent, stored, plain):
    from django.core.files.uploadedfile import SimpleUploadedFile

    as_scientist.post(
        "/api/v1/models/churn/versions/", {"file": SimpleUploadedFile(sent, b"weights")}, format="multipart"
    )
    assert ModelVersion.objects.get().filename == stored
    header = as_scientist.get("/api/v1/models/churn/versions/1/download/")["Content-Disposition"]
    assert header == f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(stored, safe='')}"
