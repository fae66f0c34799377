"""DORA figures read a fixed number of queries, however many deployments the period holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from releases import dora
from releases.models import Release, RunPeriod
from tests.releases.conftest import SETUP
from tests.releases.helpers import candidate, environment

pytestmark = pytest.mark.django_db


def deploy(prod, application, version, count, *, start):
    """``count`` more deployments, each replacing the one before it (as the deployer leaves them)."""
    previous = Release.objects.filter(environment=prod).order_by("-finished_at").first()
    for i in range(start, start + count):
        at = timezone.now() - timedelta(days=20 - i)
        image = candidate(application, version, f"d{i}")
        release = Release.objects.create(
            environment=prod,
            image=image,
            digest=image.digest,
            model_version=version,
            commit=f"{i:040x}",
            state="succeeded",
            finished_at=at,
            previous_release=previous,
        )
        RunPeriod.objects.filter(environment=prod, ended_at__isnull=True).update(ended_at=at)
        RunPeriod.objects.create(environment=prod, release=release, started_at=at)
        previous = release


def test_the_same_queries_for_many_deployments(application, churn_model):
    prod = environment(application, "prod", actor=SETUP, required_approvals=0)
    version = churn_model.versions.get()
    deploy(prod, application, version, 2, start=0)
    with CaptureQueriesContext(connection) as few:
        dora.compute(prod, days=30)
    deploy(prod, application, version, 8, start=2)
    with CaptureQueriesContext(connection) as many:
        figures = dora.compute(prod, days=30)
    assert figures.deployment_frequency.numerator == 10
    assert len(many) == len(few)
