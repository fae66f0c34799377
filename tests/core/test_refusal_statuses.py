"""A refusal answers the status that says why: a role's refusal is a 403, a state's a 409 (both were
400s, which the schema fuzzer flagged against what the other endpoints answer)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import JobRun
from releases.models import Release
from tests.releases.helpers import candidate, environment

pytestmark = pytest.mark.django_db


def test_a_store_sync_while_one_is_waiting_is_a_409(api, scientist, django_capture_on_commit_callbacks):
    api.force_authenticate(scientist)
    with django_capture_on_commit_callbacks(execute=False):  # the first sync stays queued
        assert api.post("/api/v1/models/sync/").status_code == 202
        response = api.post("/api/v1/models/sync/")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "A sync of the model store is already queued or running.",
        "code": "conflict",
    }
    assert JobRun.objects.count() == 1


def test_requesting_a_scheduled_release_without_the_role_for_it_is_a_403(
    api, scientist, manager, application
):
    staging = environment(application, actor=manager)
    image = candidate(application, application.model.versions.get(), "one")
    api.force_authenticate(scientist)
    body = {"environment": staging.pk, "image": image.pk, "scheduled_for": timezone.now() + timedelta(days=1)}
    response = api.post("/api/v1/releases/", body, format="json")
    assert response.status_code == 403
    assert response.json()["field"] == "scheduled_for"
    assert not Release.objects.exists()
