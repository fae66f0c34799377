from __future__ import annotations

import pytest

from dashboard.models import AuditEvent
from models_registry import services
from models_registry.models import ModelVersion, RegisteredModel
from tests.registry.helpers import post_version, sha, upload

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


def test_it_registers_an_object_already_in_the_store(as_scientist, model_store_root):
    path = model_store_root / "churn" / "published" / "model.pkl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"published by a data scientist")
    response = as_scientist.post(
        "/api/v1/models/churn/versions/", {"key": "churn/published/model.pkl"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["sha256"] == sha(b"published by a data scientist")
    assert (body["source"], body["storage_key"], body["filename"]) == (
        "reference",
        "churn/published/model.pkl",
        "model.pkl",
    )
    assert body["etag"]


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


def test_a_missing_store_object_is_a_404(as_scientist):
    response = as_scientist.post(
        "/api/v1/models/churn/versions/", {"key": "churn/missing.bin"}, format="json"
    )
    assert response.status_code == 404
    assert "missing.bin" in response.json()["detail"]


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/path", "churn/../../x", "churn/\x01"])
def test_a_key_escaping_the_store_is_refused(as_scientist, key):
    response = as_scientist.post("/api/v1/models/churn/versions/", {"key": key}, format="json")
    assert response.status_code == 400
    assert "invalid object key" in response.json()["detail"]


def test_an_unreachable_store_gives_503_with_the_reason(as_scientist, settings, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the store's folder should be")
    settings.MODEL_STORE = {**settings.MODEL_STORE, "path": str(blocker / "models")}
    services.get_store.cache_clear()
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
