from __future__ import annotations

import pytest

from core.models import AuditEvent
from models_registry.models import RegisteredModel

pytestmark = pytest.mark.django_db


def test_it_creates_a_model_and_audits_it(api, scientist):
    api.force_authenticate(scientist)
    response = api.post("/api/v1/models/", {"name": "churn", "description": "churn model"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["owner"] == "scientist"
    assert response.json()["version_count"] == 0
    event = AuditEvent.objects.get(action="model.create")
    assert (event.actor_name, event.object_repr, event.after["name"]) == ("scientist", "churn", "churn")


def test_it_refuses_a_duplicate_name_with_409(api, scientist):
    api.force_authenticate(scientist)
    api.post("/api/v1/models/", {"name": "churn"}, format="json")
    response = api.post("/api/v1/models/", {"name": "churn"}, format="json")
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]
    assert RegisteredModel.objects.count() == 1


@pytest.mark.parametrize(
    "name", ["a/b", "..", "a..b", "bad\x00name", "tab\tname", "has space", "", "x" * 101]
)
def test_it_refuses_invalid_names(api, scientist, name):
    api.force_authenticate(scientist)
    response = api.post("/api/v1/models/", {"name": name}, format="json")
    assert response.status_code == 400
    assert "detail" in response.json()
    assert not RegisteredModel.objects.exists()


def test_it_lists_models_with_version_counts(api, scientist):
    api.force_authenticate(scientist)
    for name in ("b-model", "a-model"):
        api.post("/api/v1/models/", {"name": name}, format="json")
    body = api.get("/api/v1/models/").json()
    assert [m["name"] for m in body["results"]] == ["a-model", "b-model"]
    assert body["count"] == 2


def test_unknown_model_is_a_json_404(api, scientist):
    api.force_authenticate(scientist)
    response = api.get("/api/v1/models/nope/")
    assert response.status_code == 404
    assert response.json()["detail"]


def test_it_updates_the_description_with_an_audit_entry(api, scientist):
    api.force_authenticate(scientist)
    api.post("/api/v1/models/", {"name": "churn", "description": "old"}, format="json")
    response = api.patch("/api/v1/models/churn/", {"description": "new"}, format="json")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="model.update")
    assert (event.before, event.after) == ({"description": "old"}, {"description": "new"})


def test_an_unknown_api_path_answers_json_404(api, scientist):
    api.force_authenticate(scientist)
    response = api.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
