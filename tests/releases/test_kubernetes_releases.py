"""Releases on the Kubernetes target, against the API stand-in (its controller plays the cluster)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from builds.models import Image
from core import jobrunner
from core.models import AuditEvent, JobRun
from releases import deployer, jobs, services
from releases.models import Environment, Release, RolloutEvent
from tests.fixtures.k8s import digest_image
from tests.releases.conftest import run_jobs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def image(churn_model, name: str) -> Image:
    reference = digest_image(name)
    return Image.objects.create(
        repository=reference.split("@")[0],
        digest=reference.split("@")[1],
        reference=reference,
        model_version=churn_model.versions.get(),
        commit=hashlib.sha1(name.encode()).hexdigest(),
    )


def release(environment, churn_model, name, actor):
    created = services.request_release(environment, image=image(churn_model, name), actor=actor)
    run_jobs()
    created.refresh_from_db()
    return created


def test_a_rollout_succeeds_and_is_recorded_as_it_happens(k8s_env, k8s_standin, churn_model, manager):
    done = release(k8s_env, churn_model, "v2", manager)
    assert done.state == "succeeded", done.state_reason
    deployment = k8s_standin.read()
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == done.image.reference
    assert deployment["metadata"]["annotations"]["ai.release/release-id"] == str(done.pk)
    events = list(RolloutEvent.objects.filter(release=done).values_list("phase", flat=True))
    assert len(events) >= 2 and events[-1] == "succeeded"
    k8s_env.refresh_from_db()
    assert k8s_env.current_release == done and k8s_env.active_release is None


def test_a_failed_rollout_rolls_back_automatically(k8s_env, k8s_standin, churn_model, manager):
    good = release(k8s_env, churn_model, "v2", manager)
    bad = release(k8s_env, churn_model, "v3-pullfail", manager)
    assert bad.state == "rolled_back", bad.state_reason
    assert "ProgressDeadlineExceeded" in bad.state_reason or "ImagePull" in bad.state_reason
    rollback = Release.objects.get(rollback_of=bad)
    assert (rollback.kind, rollback.state, rollback.digest) == ("rollback", "succeeded", good.digest)
    assert k8s_standin.read()["spec"]["template"]["spec"]["containers"][0]["image"] == good.image.reference
    assert RolloutEvent.objects.filter(release=bad, message__contains="rolling back").exists()


def test_a_rollout_that_times_out_fails_with_the_reason(k8s_env, churn_model, manager):
    k8s_env.rollout_timeout = 1
    k8s_env.auto_rollback = False
    k8s_env.save()
    stuck = release(k8s_env, churn_model, "v4-crashloop", manager)
    assert stuck.state == "failed"
    assert "timed out after 1s" in stuck.state_reason


def test_drift_is_flagged_and_guards_the_next_rollout(k8s_env, k8s_standin, churn_model, manager):
    release(k8s_env, churn_model, "v2", manager)
    k8s_standin.set_image(digest_image("hotfix-by-hand"))  # someone ran kubectl set image
    notes = jobs.check_drift()
    k8s_env.refresh_from_db()
    assert "hotfix-by-hand" in k8s_env.drift, notes
    assert AuditEvent.objects.filter(action="environment.drift_detected", object_id=str(k8s_env.pk)).exists()
    refused = release(k8s_env, churn_model, "v5", manager)
    assert refused.state == "failed"  # and no rollback over the manual change: it would hit the same guard
    assert "changed outside the product" in refused.state_reason
    assert "gave up" not in refused.state_reason  # a person must look: it is not retried
    assert JobRun.objects.filter(name="releases.jobs.process_environment").exclude(attempts=1).count() == 0


def test_a_refused_release_does_not_wedge_the_environment(k8s_env, k8s_standin, churn_model, manager, oncall):
    """The operator puts the released image back after a refusal: releases and rollbacks work again."""
    first = release(k8s_env, churn_model, "v1", manager)
    good = release(k8s_env, churn_model, "v2", manager)
    k8s_standin.set_image(digest_image("hotfix-by-hand"))

    refused = release(k8s_env, churn_model, "v5", manager)  # auto_rollback is on

    assert (refused.state, refused.target_change) == ("failed", "refused")
    assert f"not '{good.image.reference}' that release #{good.pk} set" in refused.state_reason
    assert "hotfix-by-hand" in refused.state_reason and "Nothing was deployed" in refused.state_reason
    assert not Release.objects.filter(kind="rollback").exists()  # it changed nothing to roll back
    assert RolloutEvent.objects.filter(
        release=refused, message__contains="the target was not changed"
    ).exists()

    k8s_standin.set_image(good.image.reference)  # what the refusal's message asks for
    assert "in sync" in " ".join(jobs.check_drift())
    after = release(k8s_env, churn_model, "v6", manager)
    assert after.state == "succeeded", after.state_reason

    rollback = services.rollback(k8s_env, actor=oncall, reason="v6 misbehaves")
    run_jobs()
    rollback.refresh_from_db()
    assert rollback.state == "succeeded", rollback.state_reason
    assert rollback.digest == good.digest and first.digest != good.digest
    assert k8s_standin.read()["spec"]["template"]["spec"]["containers"][0]["image"] == good.image.reference


def test_a_change_whose_outcome_is_unknown_counts_as_possibly_running(
    k8s_env, k8s_standin, churn_model, manager
):
    """A PATCH whose answer was lost (the worker then gave up): either image is what the product set."""
    Environment.objects.filter(pk=k8s_env.pk).update(auto_rollback=False)
    good = release(k8s_env, churn_model, "v2", manager)
    k8s_standin.srv.add_fault(
        path=rf"/deployments/{k8s_standin.deployment}$", verb="PATCH", drop=True, count=None
    )
    created = services.request_release(k8s_env, image=image(churn_model, "v3"), actor=manager)
    run = JobRun.objects.get(name="releases.jobs.process_environment", args=[k8s_env.pk], status="retrying")
    while JobRun.objects.get(pk=run.pk).status == "retrying":
        jobrunner.execute(run.pk)
    created.refresh_from_db()
    assert (created.state, created.target_change) == ("failed", "unknown")
    k8s_standin.srv.faults.clear()

    expected = deployer.deploy_request(
        Release(environment=k8s_env, image=good.image, digest=good.digest, pk=0)
    )
    assert expected.expected_images == (created.image.reference, good.image.reference)
    assert release(k8s_env, churn_model, "v4", manager).state == "succeeded"


def test_a_mistyped_setting_saved_before_validation_fails_the_release_with_the_reason(
    k8s_env, churn_model, manager
):
    Environment.objects.filter(pk=k8s_env.pk).update(
        target_config={**k8s_env.target_config, "progress_deadline": "600s"}
    )
    failed = release(k8s_env, churn_model, "v2", manager)
    assert (failed.state, failed.target_change) == ("failed", "")
    assert "\"progress_deadline\" must be a whole number from 1 to 86400 (not '600s')" in failed.state_reason
    assert JobRun.objects.get(name="releases.jobs.process_environment").status == "succeeded"


def test_api_errors_are_retried_then_the_release_goes_out(k8s_env, k8s_standin, churn_model, manager):
    k8s_standin.srv.add_fault(
        path=rf"/deployments/{k8s_standin.deployment}$", verb="PATCH", status=500, count=1
    )
    created = services.request_release(k8s_env, image=image(churn_model, "v2"), actor=manager)
    run = JobRun.objects.get(name="releases.jobs.process_environment")
    run.refresh_from_db()
    assert run.status == "retrying", run.error
    created.refresh_from_db()
    assert created.state == "deploying"
    jobrunner.execute(run.pk)
    created.refresh_from_db()
    assert created.state == "succeeded", created.state_reason
    patches = k8s_standin.succeeded("PATCH")
    assert len(patches) == 1


def test_persistent_api_errors_fail_the_release_with_the_reason(
    k8s_env, k8s_standin, churn_model, manager, settings
):
    k8s_standin.srv.add_fault(
        path=rf"/deployments/{k8s_standin.deployment}$", verb="PATCH", status=503, count=None
    )
    created = services.request_release(k8s_env, image=image(churn_model, "v2"), actor=manager)
    run = JobRun.objects.get(name="releases.jobs.process_environment")
    while JobRun.objects.get(pk=run.pk).status == "retrying":
        jobrunner.execute(run.pk)
    created.refresh_from_db()
    assert created.state == "failed"
    assert "gave up" in created.state_reason and "API server busy or failing" in created.state_reason
    assert JobRun.objects.get(pk=run.pk).attempts == JobRun.objects.get(pk=run.pk).max_attempts


def test_a_killed_worker_is_replaced_without_deploying_twice(k8s_env, k8s_standin, churn_model, manager):
    created = services.request_release(k8s_env, image=image(churn_model, "v2"), actor=manager, note="")
    # The first worker claimed the release and patched the Deployment, then died before watching.
    JobRun.objects.filter(name="releases.jobs.process_environment").update(
        status="failed", error="worker killed"
    )
    Release.objects.filter(pk=created.pk).update(state="queued")
    claimed = deployer.claim_next(k8s_env.pk)
    from releases.targets import target_for

    target_for(k8s_env).deploy(deployer.deploy_request(claimed))
    Release.objects.filter(pk=created.pk).update(
        lease_owner="dead-worker", lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    jobs.tick()  # the recovery notices the lapsed lease and hands the environment to a live worker
    run_jobs()
    created.refresh_from_db()
    assert created.state == "succeeded", created.state_reason
    assert RolloutEvent.objects.filter(release=created, message__contains="resumed").exists()
    patches = k8s_standin.succeeded("PATCH")
    assert len(patches) == 1


def test_the_drift_check_records_health_for_the_overview(k8s_env, k8s_standin, churn_model, manager):
    release(k8s_env, churn_model, "v2", manager)
    jobs.check_drift()
    k8s_env.refresh_from_db()
    deployment = k8s_standin.read()
    wanted = deployment["spec"]["replicas"]
    assert wanted >= 1
    assert (k8s_env.ready_replicas, k8s_env.desired_replicas) == (
        deployment["status"]["readyReplicas"],
        wanted,
    )
