"""Changes made in the Django admin are audited: who, what, before and after; secrets as "changed"."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from core.models import AuditEvent

pytestmark = pytest.mark.django_db
PASSWORD = "lantern-orbit-5531"


def change_form_data(admin_client, url: str, **changes) -> dict:
    form = admin_client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None:
            continue
        if hasattr(value, "all"):
            value = [item.pk for item in value.all()]
        elif isinstance(value, list | tuple) and value and hasattr(value[0], "pk"):
            value = [item.pk for item in value]
        data[name] = value
    data.pop("last_login", None)
    data.update(date_joined_0="2026-01-01", date_joined_1="00:00", **changes)
    return {k: v for k, v in data.items() if v is not False}


def test_creating_a_user_in_the_admin_is_audited(admin_client, admin_user):
    response = admin_client.post(
        "/admin/auth/user/add/",
        {"username": "newbie", "password1": PASSWORD, "password2": PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    event = AuditEvent.objects.get(action="user.create")
    assert (event.actor_id, event.object_repr) == (admin_user.pk, "newbie")
    assert event.after["username"] == "newbie" and event.after["password"] == "changed"
    assert PASSWORD not in str(event.after)


def test_changing_roles_and_activation_in_the_admin_records_every_changed_field(
    admin_client, admin_user, scientist
):
    managers = Group.objects.get(name="Release manager")
    url = f"/admin/auth/user/{scientist.pk}/change/"
    data = change_form_data(admin_client, url, groups=[managers.pk], email="sci@example.com")
    data.pop("is_active")  # unticked
    assert admin_client.post(url, data).status_code == 302
    event = AuditEvent.objects.get(action="user.update")
    assert event.actor_id == admin_user.pk
    assert event.before == {"email": "", "is_active": True, "groups": ["Data scientist"]}
    assert event.after == {"email": "sci@example.com", "is_active": False, "groups": ["Release manager"]}


def test_a_password_set_in_the_admin_is_audited_as_changed_only(admin_client, scientist):
    response = admin_client.post(
        f"/admin/auth/user/{scientist.pk}/password/",
        {"password1": PASSWORD, "password2": PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="user.update")
    assert (event.before, event.after) == ({"password": "changed"}, {"password": "changed"})
    scientist.refresh_from_db()
    assert scientist.check_password(PASSWORD)


def test_changing_a_roles_permissions_and_deleting_a_user_are_audited(admin_client, make_user):
    oncall = Group.objects.get(name="On-call")
    url = f"/admin/auth/group/{oncall.pk}/change/"
    extra = Permission.objects.get(codename="break_glass")
    data = change_form_data(admin_client, url)
    data["permissions"] = [*data["permissions"], extra.pk]
    assert admin_client.post(url, data).status_code == 302
    event = AuditEvent.objects.get(action="group.update")
    added = set(event.after["permissions"]) - set(event.before["permissions"])
    assert added == {str(extra)}

    unused = make_user("temporary", "on-call")
    admin_client.post(f"/admin/auth/user/{unused.pk}/delete/", {"post": "yes"})
    assert not get_user_model().objects.filter(username="temporary").exists()
    deleted = AuditEvent.objects.get(action="user.delete")
    assert deleted.before["username"] == "temporary" and deleted.before["password"] == "changed"


@pytest.mark.parametrize(
    ("url", "job"),
    [
        ("/api/v1/models/sync/", "models_registry.jobs.sync_model_store"),
        ("/api/v1/images/sync/", "builds.jobs.sync_image_tags"),
    ],
)
def test_starting_a_sync_is_audited(api, admin_user, django_capture_on_commit_callbacks, url, job):
    api.force_authenticate(admin_user)
    with django_capture_on_commit_callbacks():  # queued, not run
        response = api.post(url)
    assert response.status_code == 202, response.content
    event = AuditEvent.objects.get(action="job.start")
    assert (event.actor_id, event.object_id, event.after) == (
        admin_user.pk,
        str(response.json()["id"]),
        {"job": job, "args": []},
    )
