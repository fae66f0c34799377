from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from builds.models import Build, WebhookDelivery
from core import jobrunner
from core.models import JobRun

pytestmark = pytest.mark.django_db
URL = "/api/v1/webhooks/{provider}/churn-predictor/"


def github(client, payload, *, secret="s3cret", delivery="d-1", event="push"):
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        URL.format(provider="github"),
        body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=signature,
        HTTP_X_GITHUB_EVENT=event,
        HTTP_X_GITHUB_DELIVERY=delivery,
    )


def azure(client, payload, *, secret="s3cret"):
    auth = base64.b64encode(f"hook:{secret}".encode()).decode()
    return client.post(
        URL.format(provider="azure-repos"),
        json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {auth}",
    )


def azure_push(commit, *, ref="refs/heads/main", delivery="n-1"):
    return {
        "id": delivery,
        "eventType": "git.push",
        "resource": {"refUpdates": [{"name": ref, "newObjectId": commit}]},
    }


def run_queued_jobs():
    for run in JobRun.objects.filter(status="queued", name="builds.jobs.handle_push"):
        jobrunner.execute(run.pk)


def test_a_signed_github_push_queues_a_build_of_that_commit(client, application, app_repo):
    commit = app_repo.commit("new feature")
    response = github(client, {"ref": "refs/heads/main", "after": commit})
    assert response.status_code == 202, response.json()
    run_queued_jobs()
    build = Build.objects.get()
    assert (build.commit, build.trigger) == (commit, "webhook")
    application.refresh_from_db()
    assert application.last_seen_commit == commit


def test_a_bad_signature_is_401_and_queues_nothing(client, application, app_repo):
    response = github(client, {"ref": "refs/heads/main", "after": app_repo.head}, secret="wrong")
    assert response.status_code == 401
    assert "signature" in response.json()["detail"]
    assert not JobRun.objects.exists() and not WebhookDelivery.objects.exists()


def test_a_replayed_delivery_is_ignored(client, application, app_repo):
    payload = {"ref": "refs/heads/main", "after": app_repo.head}
    assert github(client, payload, delivery="same").status_code == 202
    replay = github(client, payload, delivery="same")
    assert replay.status_code == 200
    assert replay.json()["detail"] == "replayed delivery"
    assert JobRun.objects.filter(name="builds.jobs.handle_push").count() == 1


def test_a_captured_delivery_resent_with_a_new_delivery_id_is_ignored(client, application, app_repo):
    """The delivery id header is not signed: the signed body is what identifies a push."""
    payload = {"ref": "refs/heads/main", "after": app_repo.head, "repository": {"pushed_at": 1764650000}}
    assert github(client, payload, delivery="d-original").status_code == 202
    replay = github(client, payload, delivery="d-forged-new-id")
    assert replay.status_code == 200 and replay.json()["detail"] == "replayed delivery"
    assert JobRun.objects.filter(name="builds.jobs.handle_push").count() == 1
    next_push = {**payload, "repository": {"pushed_at": 1764650100}}  # another real push of the same head
    assert github(client, next_push, delivery="d-2").status_code == 202


def test_other_branches_and_events_are_ignored(client, application, app_repo):
    assert github(client, {"ref": "refs/heads/feature", "after": app_repo.head}).json()["status"] == "ignored"
    assert github(client, {"zen": "hi"}, event="ping", delivery="p").json()["status"] == "ignored"
    assert not JobRun.objects.exists()


def test_an_azure_repos_push_with_the_secret_queues_a_build(client, application, app_repo):
    response = azure(client, azure_push(app_repo.head))
    assert response.status_code == 202, response.json()
    run_queued_jobs()
    assert Build.objects.get().commit == app_repo.head


def test_an_azure_repos_push_with_a_wrong_secret_is_401(client, application, app_repo):
    assert azure(client, azure_push(app_repo.head), secret="nope").status_code == 401
    assert not JobRun.objects.exists()


def test_malformed_bodies_are_400(client, application):
    assert azure(client, ["not", "an", "object"]).status_code == 400
    response = azure(client, azure_push("not-a-sha"))
    assert response.status_code == 400 and "not a commit sha" in response.json()["detail"]


def test_webhooks_are_off_without_a_secret(client, application, app_repo):
    application.webhook_secret = ""
    application.save()
    response = github(client, {"ref": "refs/heads/main", "after": app_repo.head}, secret="")
    assert response.status_code == 403


def test_unknown_application_is_404(client, application):
    assert (
        client.post("/api/v1/webhooks/github/nope/", "{}", content_type="application/json").status_code == 404
    )
