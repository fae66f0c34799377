from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from core import audit
from core.models import AppendOnlyError, AuditEvent
from models_registry import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(scientist):
    model = services.create_model("churn", actor=scientist)
    return AuditEvent.objects.get(object_id=str(model.pk))


def test_an_event_cannot_be_changed(event):
    event.action = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()


def test_an_event_cannot_be_deleted(event):
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.update(action="x")


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the database trigger exists on PostgreSQL only"
)
def test_the_database_refuses_raw_updates_and_deletes(event):
    for sql in ("UPDATE dashboard_auditevent SET action = 'x'", "DELETE FROM dashboard_auditevent"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditEvent.objects.get(pk=event.pk).action == "model.create"


def test_the_admin_offers_no_change_or_delete(admin_client, event):
    assert admin_client.get(f"/admin/dashboard/auditevent/{event.pk}/change/").status_code == 200
    response = admin_client.post(f"/admin/dashboard/auditevent/{event.pk}/change/", {"action": "x"})
    assert response.status_code == 403
    assert (
        admin_client.post(f"/admin/dashboard/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert AuditEvent.objects.filter(pk=event.pk, action="model.create").exists()


def test_events_carry_the_request_id(api, scientist):
    api.force_authenticate(scientist)
    response = api.post("/api/v1/models/", {"name": "churn"}, format="json", HTTP_X_REQUEST_ID="req-123")
    assert response["X-Request-ID"].startswith("req-123+")
    assert AuditEvent.objects.get(action="model.create").request_id == response["X-Request-ID"]


def test_a_client_cannot_give_two_requests_the_same_id(api, scientist):
    """The client's id is kept as a prefix of a unique one: the trail tells its requests apart."""
    api.force_authenticate(scientist)
    first = api.post("/api/v1/models/", {"name": "a"}, format="json", HTTP_X_REQUEST_ID="deploy-42")
    second = api.post("/api/v1/models/", {"name": "b"}, format="json", HTTP_X_REQUEST_ID="deploy-42")
    forged = api.post(
        "/api/v1/models/", {"name": "c"}, format="json", HTTP_X_REQUEST_ID=first["X-Request-ID"]
    )
    ids = {first["X-Request-ID"], second["X-Request-ID"], forged["X-Request-ID"]}
    assert len(ids) == 3 and not forged["X-Request-ID"].startswith(first["X-Request-ID"])
    found = api.get("/api/v1/audit/", {"request_id": "deploy-42"}).json()["results"]
    assert sorted(e["object_repr"] for e in found) == ["a", "b"]


def test_system_actors_are_named(scientist):
    model = services.create_model("churn", actor=scientist)
    event = audit.record("model.test", model, actor="job:sync_model_store", after={"x": 1})
    assert (event.actor, event.actor_name) == (None, "job:sync_model_store")


def test_the_audit_page_filters_by_actor_and_action(client, scientist, manager):
    services.create_model("by-scientist", actor=scientist)
    services.create_model("by-manager", actor=manager)
    client.force_login(scientist)
    page = client.get("/audit/", {"actor": "manager", "action": "model."}).content.decode()
    assert "by-manager" in page
    assert "by-scientist" not in page


def test_the_audit_api_filters_and_rejects_bad_filters(api, scientist, manager):
    services.create_model("by-scientist", actor=scientist)
    services.create_model("by-manager", actor=manager)
    api.force_authenticate(manager)
    body = api.get("/api/v1/audit/", {"actor": "scientist"}).json()
    assert [e["object_repr"] for e in body["results"]] == ["by-scientist"]
    bad = api.get("/api/v1/audit/", {"since": "yesterday-ish"})
    assert bad.status_code == 400
    assert "since" in bad.json()["detail"]


def test_the_audit_page_query_count_is_flat(client, scientist, django_assert_max_num_queries):
    client.force_login(scientist)
    for i in range(60):
        services.create_model(f"m{i}", actor=scientist)
    with django_assert_max_num_queries(8):
        assert client.get("/audit/").status_code == 200
