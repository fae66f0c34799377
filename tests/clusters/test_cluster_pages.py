"""Clusters in the pages: admins add, edit, test and delete them; credentials never come back out."""

from __future__ import annotations

import pytest

from clusters.models import Cluster
from core.models import AuditEvent, JobRun

pytestmark = pytest.mark.django_db

TOKEN = "page-sekret-token-0123456789"


@pytest.fixture
def admin(make_user):
    return make_user("admin", "admin")


def add(client, **fields):
    data = {
        "name": "aks-prod",
        "server_url": "https://aks.example.io:443",
        "auth_kind": "token",
        "token": TOKEN,
    }
    return client.post("/clusters/", {**data, **fields})


def test_an_admin_adds_edits_tests_and_deletes_a_cluster(client, admin):
    client.force_login(admin)
    answer = add(client)
    cluster = Cluster.objects.get(name="aks-prod")
    assert answer.status_code == 302 and answer["Location"] == f"/clusters/{cluster.pk}/"
    page = client.get(f"/clusters/{cluster.pk}/").content.decode()
    assert TOKEN not in page and "set (never shown)" in page
    assert '<label for="id_token">Bearer token</label>' in page

    # An empty token box keeps the stored token; the change is audited without it.
    client.post(f"/clusters/{cluster.pk}/", {"server_url": "https://aks2.example.io", "auth_kind": "token"})
    cluster.refresh_from_db()
    assert cluster.server_url == "https://aks2.example.io" and cluster.token == TOKEN
    assert TOKEN not in str(list(AuditEvent.objects.values_list("before", "after")))

    client.post(f"/clusters/{cluster.pk}/test/", {"namespace": "churn-prod"})
    run = JobRun.objects.get(name="clusters.jobs.test_connection")
    assert run.args == [cluster.pk, "churn-prod"]
    assert "testing" in client.get(f"/clusters/{cluster.pk}/").content.decode()
    bad = client.post(f"/clusters/{cluster.pk}/test/", {"namespace": "Not A Namespace"}, follow=True)
    assert "namespace" in bad.content.decode().lower()

    client.post(f"/clusters/{cluster.pk}/delete/")
    assert not Cluster.objects.filter(pk=cluster.pk).exists()


def test_a_bad_url_is_a_form_error_and_nothing_is_saved(client, admin):
    client.force_login(admin)
    answer = add(client, server_url="ftp://nope")
    assert answer.status_code == 200 and "errorlist" in answer.content.decode()
    assert not Cluster.objects.exists()


def test_other_roles_see_clusters_but_cannot_change_them(client, admin, manager):
    client.force_login(admin)
    add(client)
    cluster = Cluster.objects.get()
    client.force_login(manager)
    listing = client.get("/clusters/").content.decode()
    assert "aks-prod" in listing and "Add a cluster" not in listing and TOKEN not in listing
    assert add(client, name="other").status_code == 403
    assert client.post(f"/clusters/{cluster.pk}/delete/").status_code == 403
    assert client.post(f"/clusters/{cluster.pk}/test/", {"namespace": "x"}).status_code == 403
    assert client.post(f"/clusters/{cluster.pk}/", {"auth_kind": "token"}).status_code == 403


def test_an_unknown_cluster_is_a_404_on_every_page(client, admin):
    client.force_login(admin)
    assert client.get("/clusters/999999/").status_code == 404
    assert client.post("/clusters/999999/", {"name": "aks-prod"}).status_code == 404
    assert client.post("/clusters/999999/test/", {"namespace": "churn-prod"}).status_code == 404
    assert client.post("/clusters/999999/delete/").status_code == 404
    assert not JobRun.objects.exists() and not AuditEvent.objects.exists()
