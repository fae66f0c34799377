from __future__ import annotations

import pytest

from core.models import AuditEvent
from models_registry import services
from models_registry.models import ModelVersion
from tests.registry.helpers import sha, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, scientist):
    client.force_login(scientist)
    services.create_model("churn", actor=scientist)
    return client


def test_registering_through_the_form_shows_the_sha256(logged_in):
    content = b"uploaded through the page"
    response = logged_in.post(
        "/models/churn/versions/new/",
        {"file": upload(content), "metrics": '{"auc": 0.9}', "framework": "sklearn"},
        follow=True,
    )
    page = response.content.decode()
    assert sha(content) in page
    assert "auc" in page and "0.9" in page
    assert AuditEvent.objects.filter(action="model_version.register", actor_name="scientist").exists()


def test_the_form_shows_errors_instead_of_failing(logged_in):
    response = logged_in.post("/models/churn/versions/new/", {"file": upload(b"x"), "metrics": "[1]"})
    assert response.status_code == 200
    assert "metrics must be a JSON object" in response.content.decode()
    both = logged_in.post("/models/churn/versions/new/", {"file": upload(b"x"), "key": "churn/x"})
    assert "exactly one" in both.content.decode()
    assert not ModelVersion.objects.exists()


def test_creating_a_duplicate_model_in_the_page_is_a_form_error(logged_in):
    response = logged_in.post("/models/", {"name": "churn"})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()


def test_the_model_page_lists_metrics_side_by_side_and_compares(logged_in, scientist):
    model = services.create_model("iris", actor=scientist)
    for content, auc in ((b"one", 0.8), (b"two", 0.85)):
        info = services.VersionInfo(metrics={"auc": auc, "f1": 0.5})
        services.register_uploaded_version(model, upload(content), info, actor=scientist)
    page = logged_in.get("/models/iris/").content.decode()
    assert page.index("0.85") < page.index("0.8<")  # newest first
    compare = logged_in.get("/models/iris/compare/", {"v": ["1", "2"]}).content.decode()
    assert "0.05" in compare


def test_the_status_form_blocks_with_a_reason(client, manager, scientist):
    model = services.create_model("churn", actor=scientist)
    services.register_uploaded_version(model, upload(b"v"), services.VersionInfo(metrics={}), actor=scientist)
    client.force_login(manager)
    no_reason = client.post("/models/churn/versions/1/", {"status": "blocked"})
    assert "needs a reason" in no_reason.content.decode()
    client.post("/models/churn/versions/1/", {"status": "blocked", "status_reason": "bias found"})
    assert ModelVersion.objects.get().status == "blocked"


def test_the_model_page_query_count_does_not_grow_with_versions(
    logged_in, scientist, django_assert_max_num_queries
):
    model = services.create_model("many", actor=scientist)
    for i in range(40):
        info = services.VersionInfo(metrics={"auc": i / 100})
        services.register_uploaded_version(model, upload(f"c{i}".encode()), info, actor=scientist)
    with django_assert_max_num_queries(10):
        assert logged_in.get("/models/many/").status_code == 200
    with django_assert_max_num_queries(10):
        assert logged_in.get("/models/").status_code == 200
    with django_assert_max_num_queries(14):
        assert logged_in.get("/").status_code == 200


def test_registering_by_key_through_the_form_shows_a_pending_version_until_a_worker_pins_it(
    logged_in, model_store_root
):
    from tests.registry.helpers import publish_file, run_queued

    publish_file(model_store_root, "churn/2026-12/model.pkl", b"published weights")
    response = logged_in.post("/models/churn/versions/new/", {"key": "churn/2026-12/model.pkl"}, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == "/models/churn/versions/1/"
    assert "churn v1 is pending: a worker is hashing and pinning churn/2026-12/model.pkl" in page
    assert 'hx-trigger="every 2s"' in page  # the content card refreshes itself while pending
    assert "Download" not in page

    run_queued()
    part = logged_in.get("/models/churn/versions/1/", {"part": "content"}, HTTP_HX_REQUEST="true")
    fragment = part.content.decode()
    assert sha(b"published weights") in fragment and ">ready<" in fragment
    assert "hx-trigger" not in fragment and "Download" in fragment


def test_the_model_page_shows_a_failed_version_with_its_reason(logged_in):
    from tests.registry.helpers import run_queued

    logged_in.post("/models/churn/versions/new/", {"key": "churn/nothing-here.pkl"})
    run_queued()
    page = logged_in.get("/models/churn/").content.decode()
    assert '<span class="badge failed" title="filesystem model store: no object' in page
