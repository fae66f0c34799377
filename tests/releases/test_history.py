"""Time travel: which release ran in an environment at an instant, and where a model version ran."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from releases import deployer, history
from releases.models import Release, RunPeriod
from tests.releases.conftest import SETUP
from tests.releases.helpers import candidate, environment

pytestmark = pytest.mark.django_db


def go_out(env, image) -> Release:
    """A release through claim and finish, as a deploy job runs it (the rollout itself is tested elsewhere)."""
    release = Release.objects.create(
        environment=env,
        image=image,
        digest=image.digest,
        state="queued",
        model_version=image.model_version,
        commit=image.commit,
    )
    assert deployer.claim_next(env.pk) == release
    deployer.finish(Release.objects.get(pk=release.pk), succeeded=True, reason="rolled out")
    return Release.objects.get(pk=release.pk)


def test_each_success_closes_the_previous_period_and_opens_its_own(application, churn_model):
    env = environment(application, actor=SETUP, required_approvals=0)
    version = churn_model.versions.get()
    first = go_out(env, candidate(application, version, "v1"))
    between = timezone.now()
    second = go_out(env, candidate(application, version, "v2"))

    old, new = RunPeriod.objects.order_by("started_at")
    assert (old.release, new.release, new.ended_at) == (first, second, None)
    assert old.ended_at == new.started_at
    assert history.running_at(env, between).release == first
    assert history.running_at(env, timezone.now()).release == second
    assert history.running_at(env, old.started_at - timedelta(seconds=1)) is None
    assert [p.release for p in history.timeline(env)] == [second, first]
    assert [p.release for p in history.deployments_of(version)] == [second, first]
