"""A deployment's end is one transaction: a failure half-way leaves nothing half-written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import DatabaseError, connection

from core.models import AuditEvent
from releases import deployer, services
from releases.models import Environment, Release
from tests.releases.conftest import SETUP
from tests.releases.helpers import candidate, environment

pytestmark = pytest.mark.django_db(transaction=True)

TRIGGERS = {
    "sqlite": [
        """CREATE TRIGGER crash_on_now_runs BEFORE UPDATE OF current_release_id ON releases_environment
           WHEN NEW.current_release_id IS NOT OLD.current_release_id
           BEGIN SELECT RAISE(ABORT, 'the worker died here'); END""",
    ],
    "postgresql": [
        """CREATE FUNCTION crash_on_now_runs() RETURNS trigger AS $$
           BEGIN RAISE EXCEPTION 'the worker died here'; END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER crash_on_now_runs BEFORE UPDATE ON releases_environment FOR EACH ROW
           WHEN (NEW.current_release_id IS DISTINCT FROM OLD.current_release_id)
           EXECUTE FUNCTION crash_on_now_runs()""",
    ],
}
DROP = {
    "sqlite": ["DROP TRIGGER crash_on_now_runs"],
    "postgresql": [
        "DROP TRIGGER crash_on_now_runs ON releases_environment",
        "DROP FUNCTION crash_on_now_runs()",
    ],
}


@pytest.fixture
def crash_when_recording_what_runs() -> Iterator[None]:
    """The database refuses the second write of the outcome, as a worker dying there would."""
    with connection.cursor() as cursor:
        for statement in TRIGGERS[connection.vendor]:
            cursor.execute(statement)
    yield
    with connection.cursor() as cursor:
        for statement in DROP[connection.vendor]:
            cursor.execute(statement)


def deploying(application, manager, churn_model) -> Release:
    env = environment(application, actor=SETUP, required_approvals=0)
    image = candidate(application, churn_model.versions.get(), "v2")
    release = Release.objects.create(environment=env, image=image, digest=image.digest, state="queued")
    assert deployer.claim_next(env.pk) == release
    release.refresh_from_db()
    return release


def test_a_success_is_recorded_whole_or_not_at_all(
    application, manager, churn_model, crash_when_recording_what_runs
):
    release = deploying(application, manager, churn_model)
    with pytest.raises(DatabaseError, match="the worker died here"):
        deployer.finish(release, succeeded=True, reason="rolled out")
    release.refresh_from_db()
    env = Environment.objects.get(pk=release.environment_id)
    assert release.state == "deploying"  # another worker resumes it: its lease runs out
    assert (env.current_release_id, env.active_release_id) == (None, release.pk)
    assert not AuditEvent.objects.filter(action="release.succeeded").exists()


def test_a_success_records_state_what_runs_and_the_audit_together(application, manager, churn_model):
    release = deploying(application, manager, churn_model)
    deployer.finish(release, succeeded=True, reason="rolled out")
    env = Environment.objects.get(pk=release.environment_id)
    assert (env.current_release_id, env.active_release_id) == (release.pk, None)
    now_runs = AuditEvent.objects.get(action="environment.now_runs")
    assert (now_runs.before, now_runs.after) == (
        {"release": None},
        {"release": release.pk, "digest": release.digest},
    )
    assert AuditEvent.objects.filter(action="release.succeeded", object_id=str(release.pk)).exists()
    assert services.get_release(release.pk).state == "succeeded"
