"""Reads take the signed-in user and their permissions from Redis; every change drops them at once.

These tests commit (``transaction=True``): the cache is dropped when a change commits, which the
rest of the suite, inside transactions that roll back, never does (it reads users each time).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.roles import set_roles
from releases import services
from releases.models import Release
from tests.releases.helpers import candidate, environment

pytestmark = pytest.mark.django_db(transaction=True)
AUTH_TABLES = ('FROM "auth_user"', 'FROM "auth_group"', 'FROM "auth_permission"', 'FROM "django_session"')


@pytest.fixture(autouse=True)
def auth_cache_on(settings):
    settings.AUTH_CACHE_SECONDS = 60


@pytest.fixture
def waiting_release(application, churn_model, scientist, manager):
    staging = environment(application, "staging", actor=manager)
    return services.request_release(
        staging, image=candidate(application, churn_model.versions.get(), "img-a"), actor=scientist
    )


def auth_queries(client, path: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        status = client.get(path).status_code
    return status, [q["sql"] for q in captured if any(t in q["sql"] for t in AUTH_TABLES)]


def test_after_the_first_read_pages_ask_the_database_nothing_about_who_is_signed_in(client, manager):
    client.force_login(manager)
    status, first = auth_queries(client, "/")
    assert status == 200 and len(first) >= 4  # session, user, permissions, role names
    status, second = auth_queries(client, "/")
    assert status == 200 and second == []
    page = client.get("/").content.decode()
    assert "Release manager" in page and 'href="/approvals/"' in page  # roles and permissions kept


def test_losing_a_role_takes_effect_on_the_very_next_page(client, manager, make_user):
    admin = make_user("admin-1", "admin")
    client.force_login(manager)
    assert client.get("/approvals/").status_code == 200
    set_roles(manager, {"data-scientist"}, actor=admin)
    assert client.get("/approvals/").status_code == 403
    assert "Data scientist" in client.get("/").content.decode()


def test_a_role_losing_a_permission_takes_effect_at_once(client, manager):
    client.force_login(manager)
    assert client.get("/approvals/").status_code == 200
    approve = Permission.objects.get(content_type__app_label="releases", codename="approve_release")
    Group.objects.get(name="Release manager").permissions.remove(approve)
    assert client.get("/approvals/").status_code == 403


def test_a_deactivated_user_or_a_changed_password_is_signed_out_at_once(client, manager, scientist):
    client.force_login(manager)
    assert client.get("/").status_code == 200
    manager.is_active = False
    manager.save()
    assert client.get("/").status_code == 302

    client.force_login(scientist)
    assert client.get("/").status_code == 200
    scientist.set_password("a-new-password-for-tests")
    scientist.save()
    assert client.get("/").status_code == 302


def test_actions_are_authorised_from_the_database_even_when_a_read_is_stale(client, manager, waiting_release):
    client.force_login(manager)
    assert client.get("/approvals/").status_code == 200
    # Taken out of the group behind the ORM's back (raw SQL would do the same): no signal, so
    # pages that only read may show the old roles until AUTH_CACHE_SECONDS pass...
    get_user_model().groups.through.objects.filter(user=manager).delete()
    assert client.get("/approvals/").status_code == 200
    # ...but an action reads the user and their permissions afresh, and is refused.
    answer = client.post(f"/releases/{waiting_release.pk}/approve/", {"comment": "ok"})
    assert answer.status_code == 403
    assert Release.objects.get(pk=waiting_release.pk).state == "requested"


def test_with_the_cache_off_every_read_asks_the_database(client, manager, settings):
    settings.AUTH_CACHE_SECONDS = 0
    client.force_login(manager)
    client.get("/")
    status, again = auth_queries(client, "/")
    assert status == 200 and len(again) >= 4
