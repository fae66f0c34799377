"""Clusters over the API: only admins manage them, and their credentials never come back out."""

from __future__ import annotations

import pytest
from django.db import connection

from clusters.models import Cluster
from core.models import AuditEvent

pytestmark = pytest.mark.django_db

TOKEN = "sekret-token-0123456789abcdef"
KUBECONFIG = "apiVersion: v1\nkind: Config\nusers: [{name: u, user: {token: kubeconfig-sekret-42}}]\n"


@pytest.fixture
def admin(make_user):
    return make_user("admin", "admin")


def create(api, **fields):
    body = {
        "name": "aks-prod",
        "server_url": "https://aks.example.io:443",
        "auth_kind": "token",
        "token": TOKEN,
    }
    return api.post("/api/v1/clusters/", {**body, **fields}, format="json")


def test_it_creates_a_cluster_and_answers_without_the_token(api, admin):
    api.force_login(admin)
    answer = create(api)
    assert answer.status_code == 201, answer.json()
    assert answer.json()["has_credentials"] is True
    assert "token" not in answer.json() and TOKEN not in answer.content.decode()
    listed = api.get("/api/v1/clusters/")
    assert TOKEN not in listed.content.decode() and listed.json()["results"][0]["name"] == "aks-prod"


def test_it_stores_credentials_encrypted(api, admin):
    api.force_login(admin)
    create(api)
    cluster = Cluster.objects.get()
    api.patch(
        f"/api/v1/clusters/{cluster.pk}/",
        {"auth_kind": "kubeconfig", "kubeconfig": KUBECONFIG},
        format="json",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT token, kubeconfig FROM clusters_cluster")
        token, kubeconfig = cursor.fetchone()
    assert TOKEN not in token and "kubeconfig-sekret-42" not in kubeconfig
    cluster.refresh_from_db()
    assert (cluster.token, cluster.kubeconfig) == (TOKEN, KUBECONFIG)


def test_every_change_is_audited_with_credentials_only_as_changed(api, admin):
    api.force_login(admin)
    cluster_id = create(api).json()["id"]
    api.patch(f"/api/v1/clusters/{cluster_id}/", {"token": "another-token-abcdefgh"}, format="json")
    api.patch(f"/api/v1/clusters/{cluster_id}/", {"ca_bundle": ""}, format="json")  # no change: no event
    assert api.delete(f"/api/v1/clusters/{cluster_id}/").status_code == 204
    events = AuditEvent.objects.filter(object_type="clusters.cluster").order_by("pk")
    assert [e.action for e in events] == ["cluster.create", "cluster.update", "cluster.delete"]
    assert events[1].after == {"token": "changed"} and events[1].before == {"token": "changed"}
    raw = repr([(e.before, e.after) for e in events])
    assert TOKEN not in raw and "another-token" not in raw


def test_absent_credentials_are_kept_and_empty_ones_removed(api, admin):
    api.force_login(admin)
    cluster_id = create(api).json()["id"]
    assert api.patch(f"/api/v1/clusters/{cluster_id}/", {"ca_bundle": ""}, format="json").json()[
        "has_credentials"
    ]
    removed = api.patch(f"/api/v1/clusters/{cluster_id}/", {"token": ""}, format="json").json()
    assert (removed["has_credentials"], removed["needs_credentials"]) == (False, True)


def test_a_name_cannot_change_and_a_duplicate_is_a_conflict(api, admin):
    api.force_login(admin)
    cluster_id = create(api).json()["id"]
    assert create(api).status_code == 409
    renamed = api.patch(f"/api/v1/clusters/{cluster_id}/", {"name": "other"}, format="json")
    assert renamed.status_code == 400 and renamed.json()["field"] == "name"


def test_a_token_cluster_needs_a_server_url(api, admin):
    api.force_login(admin)
    answer = create(api, server_url="")
    assert answer.status_code == 400 and answer.json()["field"] == "server_url"


def test_a_release_manager_may_read_but_not_manage_clusters(api, admin, manager):
    api.force_login(admin)
    cluster_id = create(api).json()["id"]
    api.force_login(manager)
    assert api.get("/api/v1/clusters/").status_code == 200
    for answer in (
        create(api, name="mine"),
        api.patch(f"/api/v1/clusters/{cluster_id}/", {"token": "x" * 20}, format="json"),
        api.delete(f"/api/v1/clusters/{cluster_id}/"),
        api.post(f"/api/v1/clusters/{cluster_id}/test/", {"namespace": "default"}, format="json"),
    ):
        assert answer.status_code == 403 and answer["Content-Type"].startswith("application/json")
        assert "detail" in answer.json()


def test_a_cluster_an_environment_names_cannot_be_deleted(api, admin, application):
    from releases import services
    from releases.models import Environment

    api.force_login(admin)
    cluster_id = create(api).json()["id"]
    services.create_environment(
        {
            "application": application,
            "name": "prod",
            "target_kind": Environment.TargetKind.KUBERNETES,
            "target_config": {"cluster": "aks-prod", "namespace": "churn", "deployment": "web"},
        },
        actor=admin,
    )
    answer = api.delete(f"/api/v1/clusters/{cluster_id}/")
    assert answer.status_code == 409 and "churn-predictor/prod" in answer.json()["detail"]
    assert Cluster.objects.filter(pk=cluster_id).exists()


def test_a_test_whose_last_attempt_was_lost_with_its_worker_does_not_stay_testing(api, admin, settings):
    from datetime import timedelta

    from django.utils import timezone

    from clusters import jobs
    from core import jobrunner
    from core.models import JobRun

    api.force_login(admin)
    cluster_id = create(api).json()["id"]
    assert (
        api.post(f"/api/v1/clusters/{cluster_id}/test/", {"namespace": "churn"}, format="json").status_code
        == 202
    )
    run = JobRun.objects.get(name="clusters.jobs.test_connection")
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_LOST_AFTER + 60)
    # The worker of the last attempt claimed the run, then was killed: no heartbeat since.
    JobRun.objects.filter(pk=run.pk).update(
        status="running", attempts=run.max_attempts, heartbeat_at=long_ago, worker="gone:1"
    )
    assert jobrunner.recover_lost_runs() == [run.pk]
    assert Cluster.objects.get(pk=cluster_id).check_state == "checking"

    assert jobs.fail_abandoned_tests() == [cluster_id]

    cluster = Cluster.objects.get(pk=cluster_id)
    assert cluster.check_state == "failed" and cluster.checked_at is not None
    assert "given up" in cluster.check_reason and "stopped answering" in cluster.check_reason
    assert jobs.fail_abandoned_tests() == []
