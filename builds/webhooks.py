"""Inbound push webhooks from GitHub and Azure Repos.

GitHub signs the body with the shared secret (``X-Hub-Signature-256: sha256=<hmac>``).
Azure DevOps service hooks cannot sign, so their subscription is set up with basic
authentication whose password is the shared secret. A delivery id seen before is a replay
and is ignored. A valid push to the default branch queues a job; nothing runs in the request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from builds import jobs
from builds.models import COMMIT_PATTERN, Application, WebhookDelivery
from core import audit, jobrunner, safejson


@dataclass(frozen=True)
class Push:
    delivery_id: str
    branch: str
    commit: str


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def github_push(request: HttpRequest, secret: str) -> Push | None:
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("X-Hub-Signature-256", "")):
        raise Refused(401, "bad or missing X-Hub-Signature-256 signature")
    if request.headers.get("X-GitHub-Event") != "push":
        return None
    payload = _json(request)
    ref, commit = payload.get("ref", ""), payload.get("after", "")
    return Push(request.headers.get("X-GitHub-Delivery", ""), ref.removeprefix("refs/heads/"), commit)


def azure_repos_push(request: HttpRequest, secret: str) -> Push | None:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    try:
        password = base64.b64decode(encoded).decode().partition(":")[2] if scheme.lower() == "basic" else ""
    except ValueError:
        password = ""
    if not hmac.compare_digest(password.encode(), secret.encode()):
        raise Refused(401, "bad or missing basic-auth secret")
    payload = _json(request)
    if payload.get("eventType") != "git.push":
        return None
    updates = payload.get("resource", {}).get("refUpdates") or [{}]
    ref, commit = updates[0].get("name", ""), updates[0].get("newObjectId", "")
    return Push(str(payload.get("id", "")), ref.removeprefix("refs/heads/"), commit)


PROVIDERS = {"github": github_push, "azure-repos": azure_repos_push}


def _json(request: HttpRequest) -> dict[str, Any]:
    try:
        payload = safejson.loads(request.body)
    except ValueError as exc:
        raise Refused(400, f"the body is not usable JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise Refused(400, "the body is not a JSON object")
    return payload


@csrf_exempt
@require_POST
def receive(request: HttpRequest, provider: str, name: str) -> JsonResponse:
    application = get_object_or_404(Application, name=name)
    if provider not in PROVIDERS:
        return JsonResponse({"detail": f"unknown provider {provider!r}"}, status=404)
    if not application.webhook_secret:
        return JsonResponse(
            {"detail": "webhooks are off for this application: set its webhook secret"}, status=403
        )
    try:
        push = PROVIDERS[provider](request, application.webhook_secret)
        return _accept(application, provider, push, hashlib.sha256(request.body).hexdigest())
    except Refused as exc:
        return JsonResponse({"detail": exc.message}, status=exc.status)


def _accept(application: Application, provider: str, push: Push | None, body_sha256: str) -> JsonResponse:
    if push is None:
        return JsonResponse({"status": "ignored", "detail": "not a push event"}, status=202)
    if not push.delivery_id:
        raise Refused(400, "the delivery has no id")
    if not COMMIT_PATTERN.match(push.commit):
        raise Refused(400, f"{push.commit!r} is not a commit sha")
    if push.branch != application.default_branch:
        return JsonResponse(
            {"status": "ignored", "detail": f"push to {push.branch}, not {application.default_branch}"},
            status=202,
        )
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                application=application,
                provider=provider,
                delivery_id=push.delivery_id[:100],
                body_sha256=body_sha256,
                commit=push.commit,
            )
            audit.record("webhook.push", delivery, actor=f"webhook:{provider}", after={"commit": push.commit})
            run = jobrunner.enqueue(jobs.handle_push, application.pk, push.commit, related=application)
    except IntegrityError:
        return JsonResponse({"status": "ignored", "detail": "replayed delivery"}, status=200)
    return JsonResponse({"status": "queued", "job": run.pk, "commit": push.commit}, status=202)
