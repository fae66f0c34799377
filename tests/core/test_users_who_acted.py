"""A user who ever acted is named by the append-only audit trail: deactivated, never deleted."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db.models import ProtectedError

from core.models import AuditEvent
from models_registry import services

pytestmark = pytest.mark.django_db(transaction=True)  # the PostgreSQL trigger acts at commit time too


def test_deleting_a_user_who_acted_is_refused_and_the_trail_is_untouched(scientist):
    services.create_model("churn", actor=scientist)
    with pytest.raises(ProtectedError):
        scientist.delete()
    event = AuditEvent.objects.get(action="model.create")
    assert (event.actor_id, event.actor_name) == (scientist.pk, "scientist")


def test_the_admin_offers_deactivation_instead_of_a_500(admin_client, scientist):
    services.create_model("churn", actor=scientist)
    page = admin_client.get(f"/admin/auth/user/{scientist.pk}/delete/")
    assert page.status_code == 403
    bulk = admin_client.post(
        "/admin/auth/user/", {"action": "delete_selected", "_selected_action": [scientist.pk], "post": "yes"}
    )
    assert bulk.status_code == 200
    assert "named in the audit trail; deactivate this user instead" in bulk.content.decode()
    assert get_user_model().objects.filter(pk=scientist.pk).exists()

    form = admin_client.get(f"/admin/auth/user/{scientist.pk}/change/").context["adminform"].form
    data = {
        k: v for k, v in form.initial.items() if v is not None and k not in ("groups", "user_permissions")
    }
    data.update(
        is_active="", last_login_0="", last_login_1="", date_joined_0="2026-01-01", date_joined_1="00:00"
    )
    assert admin_client.post(f"/admin/auth/user/{scientist.pk}/change/", data).status_code == 302
    scientist.refresh_from_db()
    assert scientist.is_active is False
    assert AuditEvent.objects.get(action="model.create").actor_id == scientist.pk


def test_a_user_who_never_acted_can_be_deleted(make_user, admin_client):
    newcomer = make_user("newcomer", "on-call")
    response = admin_client.post(f"/admin/auth/user/{newcomer.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not get_user_model().objects.filter(username="newcomer").exists()
