"""DORA figures from the product's own records, with what each was computed from."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from builds.models import Build, BuildCommit
from models_registry.models import ModelVersion
from releases import dora
from releases.models import Release, RunPeriod
from tests.releases.conftest import SETUP
from tests.releases.helpers import candidate, environment

pytestmark = pytest.mark.django_db


def test_the_four_figures_and_the_daily_series(application, churn_model):
    now = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    prod = environment(application, "prod", actor=SETUP, required_approvals=0)
    v1 = churn_model.versions.get()
    ModelVersion.objects.filter(pk=v1.pk).update(created_at=now - timedelta(days=9))
    v1.refresh_from_db()

    def deploy(name, *, at, state="succeeded", previous=None, commits=()):
        image = candidate(application, v1, name)
        build = Build.objects.get(image=image)
        for position, (sha, hours_before) in enumerate(commits):
            BuildCommit.objects.create(
                build=build,
                position=position,
                sha=sha,
                author="dev",
                authored_at=at - timedelta(hours=hours_before),
                subject=sha,
            )
        Build.objects.filter(pk=build.pk).update(commit=commits[0][0] if commits else build.commit)
        release = Release.objects.create(
            environment=prod,
            image=image,
            digest=image.digest,
            build=build,
            model_version=v1,
            commit=commits[0][0] if commits else "",
            state=state,
            finished_at=at,
            previous_release=previous,
        )
        if state == "succeeded":
            RunPeriod.objects.filter(environment=prod, ended_at__isnull=True).update(ended_at=at)
            RunPeriod.objects.create(environment=prod, release=release, started_at=at)
        return release

    first = deploy(
        "a", at=now - timedelta(days=6), commits=[("c1", 10), ("c0", 30)]
    )  # v1 is new here: 3 days
    deploy("b", at=now - timedelta(days=4), state="failed", previous=first, commits=[("c2", 1), ("c1", 2)])
    second = deploy(
        "c",
        at=now - timedelta(days=4) + timedelta(hours=3),
        previous=first,
        commits=[("c3", 4), ("c2", 6), ("c1", 50)],
    )
    deploy("d", at=now - timedelta(days=1), previous=second, commits=[("c4", 2), ("c3", 8)])

    figures = dora.compute(prod, days=7, now=now)

    assert (figures.deployment_frequency.numerator, figures.deployment_frequency.denominator) == (3, 7)
    assert figures.deployment_frequency.value == round(3 / 7, 3)
    # lead times: a brings c1, c0 and model v1 (registered 9 days before now: 3 days before a) -> 72 h;
    # c brings c3, c2 (6 h before) -> 6 h; d brings c4 (2 h) -> 2 h. Median 6 h.
    assert figures.lead_time_hours.value == 6 and figures.lead_time_hours.numerator == 3
    assert figures.model_lead_time_hours.value == 72
    assert (figures.change_failure_rate.numerator, figures.change_failure_rate.denominator) == (1, 4)
    assert figures.time_to_restore_hours.value == 3
    by_day = {d["day"]: (d["deployments"], d["failures"]) for d in figures.daily}
    assert by_day[(now - timedelta(days=4)).date().isoformat()] == (1, 1)
    assert sum(d for d, _ in by_day.values()) == 3


def test_no_data_gives_no_figures_rather_than_zero(application):
    prod = environment(application, "prod", actor=SETUP)
    figures = dora.compute(prod, days=30)
    assert figures.lead_time_hours.value is None and figures.change_failure_rate.value is None
    assert figures.deployment_frequency.value == 0
