"""What an API client sees when the job queues really are asynchronous (as in production)."""

from __future__ import annotations

import django_rq
import pytest
from django.contrib.auth.models import Group
from rq import SimpleWorker

from releases.models import Environment
from tests.releases.test_kubernetes_releases import image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_right_after_approval_the_release_is_queued_with_its_reason(
    api, k8s_env, k8s_standin, churn_model, scientist, manager, real_queues
):
    Environment.objects.filter(pk=k8s_env.pk).update(
        required_approvals=1, approver_group=Group.objects.get(name="Release manager")
    )
    candidate = image(churn_model, "v2")
    api.force_authenticate(scientist)
    requested = api.post(
        "/api/v1/releases/", {"environment": k8s_env.pk, "image": candidate.pk}, format="json"
    )
    assert requested.status_code == 201, requested.content
    release_id = requested.json()["id"]
    assert requested.json()["state_reason"] == "waiting for approvals: 0 of 1 from the Release manager group"

    api.force_authenticate(manager)
    approved = api.post(f"/api/v1/releases/{release_id}/approve/", {"comment": "go"}, format="json")

    assert approved.status_code == 200, approved.content
    body = approved.json()
    assert (body["state"], body["state_reason"], body["target_change"]) == (
        "queued",
        "waiting for a deploy worker",
        "",
    )
    jobs = api.get("/api/v1/jobs/", {"status": "queued"}).json()["results"]
    assert [j["name"] for j in jobs] == ["releases.jobs.process_environment"]
    assert k8s_standin.requests("PATCH") == []  # nothing touched the cluster from the web request

    queue = django_rq.get_queue("deploys")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)

    done = api.get(f"/api/v1/releases/{release_id}/").json()
    assert (done["state"], done["target_change"]) == ("succeeded", "applied"), done["state_reason"]
    events = api.get(f"/api/v1/releases/{release_id}/events/").json()
    assert events[-1]["phase"] == "succeeded"
