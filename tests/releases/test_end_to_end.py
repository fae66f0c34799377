"""The whole loop on the embedded defaults, as a release team lives it.

Register a model -> build -> release to staging -> approve -> the app serves the new model ->
promote to prod with two approvals -> a schedule fires once -> rollback returns the old model.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from core.models import AuditEvent
from models_registry import services as model_services
from releases import scheduler
from releases.models import Release, Schedule, ScheduleRun
from releases.scheduling import next_slot
from tests.fixtures.apps import sample_model_bytes
from tests.registry.helpers import upload
from tests.releases.conftest import build_image, run_jobs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def served_model_version(environment) -> str:
    port = environment.target_config["port"]
    return requests.get(f"http://127.0.0.1:{port}/info", timeout=5).json()["model_version"]


def test_model_to_production_and_back(
    api, scientist, manager, make_user, application, environments, churn_model
):
    staging, prod = environments
    manager2 = make_user("manager2", "release-manager")

    # v1 is built and released to staging with one approval from someone other than the requester.
    build_v1 = build_image(application, manager)
    api.force_authenticate(scientist)
    release = api.post(
        "/api/v1/releases/", {"environment": staging.pk, "build": build_v1.pk}, format="json"
    ).json()
    assert release["state"] == "requested"
    api.force_authenticate(manager)
    approved = api.post(f"/api/v1/releases/{release['id']}/approve/", {"comment": "lgtm"}, format="json")
    assert approved.json()["state"] == "succeeded", (
        approved.json()
    )  # in tests the deploy job runs on commit, inline
    run_jobs()
    assert Release.objects.get(pk=release["id"]).state == "succeeded"
    assert served_model_version(staging) == "1"

    # A data scientist registers v2; the application is rebuilt with it automatically.
    model_services.register_uploaded_version(
        churn_model,
        upload(sample_model_bytes(2), "churn-model.json"),
        model_services.VersionInfo(metrics={"auc": 0.85}),
        actor=scientist,
    )
    run_jobs()
    build_v2 = application.builds.get(model_version__version=2)
    assert build_v2.state == "succeeded" and build_v2.trigger == "model"

    # Prod refuses v2 until it ran in staging.
    api.force_authenticate(manager)
    refused = api.post("/api/v1/releases/", {"environment": prod.pk, "build": build_v2.pk}, format="json")
    assert refused.status_code == 409 and "staging" in refused.json()["detail"]

    # v2 to staging, the requester cannot approve their own release (four-eyes).
    staging_v2 = api.post(
        "/api/v1/releases/", {"environment": staging.pk, "build": build_v2.pk}, format="json"
    ).json()
    own = api.post(f"/api/v1/releases/{staging_v2['id']}/approve/", {}, format="json")
    assert own.status_code == 403 and "four-eyes" in own.json()["detail"]
    api.force_authenticate(manager2)
    api.post(f"/api/v1/releases/{staging_v2['id']}/approve/", {}, format="json")
    run_jobs()
    assert served_model_version(staging) == "2"

    # Promote to prod: two approvals, each counted once.
    api.force_authenticate(scientist)
    prod_release = api.post(
        "/api/v1/releases/", {"environment": prod.pk, "build": build_v2.pk}, format="json"
    ).json()
    api.force_authenticate(manager)
    first = api.post(f"/api/v1/releases/{prod_release['id']}/approve/", {}, format="json").json()
    assert first["state"] == "requested"
    twice = api.post(f"/api/v1/releases/{prod_release['id']}/approve/", {}, format="json")
    assert twice.status_code == 409
    api.force_authenticate(manager2)
    second = api.post(f"/api/v1/releases/{prod_release['id']}/approve/", {}, format="json").json()
    assert second["state"] == "succeeded"
    run_jobs()
    assert served_model_version(prod) == "2"

    # Model v3 is built; a nightly schedule on staging releases it, once for its slot.
    model_services.register_uploaded_version(
        churn_model,
        upload(sample_model_bytes(3), "churn-model.json"),
        model_services.VersionInfo(metrics={"auc": 0.87}),
        actor=scientist,
    )
    run_jobs()
    staging.allow_self_approval = True  # the schedule owner's approval counts here
    staging.save()
    slot = next_slot("0 2 * * *", "Europe/Amsterdam", timezone.now())
    schedule = Schedule.objects.create(
        environment=staging,
        cron="0 2 * * *",
        timezone="Europe/Amsterdam",
        policy="latest-build",
        owner=manager,
        owner_approves=True,
        evaluated_until=slot - timedelta(hours=1),
    )
    at_slot = slot + timedelta(minutes=1)
    scheduler.evaluate(schedule, at_slot)
    scheduler.evaluate(Schedule.objects.get(pk=schedule.pk), at_slot)  # a second scheduler, or a re-run
    scheduler.evaluate(schedule, at_slot)  # the first one's stale copy
    run_jobs()
    run = ScheduleRun.objects.get(schedule=schedule)
    assert (run.slot, run.outcome) == (slot, "fired")
    assert Release.objects.filter(schedule=schedule).count() == 1
    assert Release.objects.get(schedule=schedule).state == "succeeded"
    assert served_model_version(staging) == "3"

    # On-call rolls staging back: the app serves the model before it again.
    oncall = make_user("pager", "on-call")
    api.force_authenticate(oncall)
    current = staging.__class__.objects.get(pk=staging.pk).current_release
    rolled = api.post(f"/api/v1/releases/{current.pk}/rollback/", {"reason": "v3 misbehaves"}, format="json")
    assert rolled.status_code == 200, rolled.json()
    run_jobs()
    assert served_model_version(staging) == "2"
    assert Release.objects.get(pk=current.pk).state == "rolled_back"
    assert AuditEvent.objects.filter(action="release.rollback", actor_name="pager").exists()
