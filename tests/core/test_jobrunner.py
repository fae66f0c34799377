from __future__ import annotations

import django_rq
import pytest
from django.db import transaction
from rq import SimpleWorker

from dashboard import jobrunner
from dashboard.models import JobRun
from tests.jobsupport import sample_jobs

pytestmark = pytest.mark.django_db


def test_a_job_is_pushed_only_when_the_transaction_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        run = jobrunner.enqueue(sample_jobs.add, 1, 2)
    assert len(callbacks) == 1
    run.refresh_from_db()
    assert run.status == "queued"  # recorded, not run yet


def test_a_rolled_back_transaction_pushes_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        try:
            with transaction.atomic():
                jobrunner.enqueue(sample_jobs.add, 1, 2)
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
    assert callbacks == []
    assert not JobRun.objects.exists()


def test_a_successful_run_is_recorded_with_its_result(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = jobrunner.enqueue(sample_jobs.add, 2, 3)
    run.refresh_from_db()
    assert (run.status, run.result, run.attempts) == ("succeeded", 5, 1)
    assert run.started_at and run.finished_at and run.finished_at >= run.started_at


def test_a_temporary_error_is_retried_then_gives_up_with_the_reason(settings):
    run = jobrunner.enqueue(sample_jobs.always_temporary, max_attempts=2)
    jobrunner.execute(run.pk)
    run.refresh_from_db()
    assert run.status == "retrying"
    assert "retrying in" in run.error and "503" in run.error
    scheduled = django_rq.get_queue("default").scheduled_job_registry.get_job_ids()
    assert f"jobrun-{run.pk}-1" in scheduled
    jobrunner.execute(run.pk)
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error.startswith("gave up after 2 attempt(s)")


@pytest.mark.parametrize("func", [sample_jobs.permanent, sample_jobs.crash])
def test_other_errors_fail_at_once(func):
    run = jobrunner.enqueue(func, max_attempts=5)
    jobrunner.execute(run.pk)
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("failed", 1)
    assert run.error


def test_a_run_pushed_twice_runs_once():
    run = jobrunner.enqueue(sample_jobs.add, 1, 1)
    assert jobrunner.execute(run.pk) == 2
    assert jobrunner.execute(run.pk) is None
    run.refresh_from_db()
    assert run.attempts == 1


def test_enqueue_once_skips_while_a_run_is_active():
    first = jobrunner.enqueue_once(sample_jobs.add, 1, 1)
    assert first is not None
    assert jobrunner.enqueue_once(sample_jobs.add, 1, 1) is None
    assert jobrunner.enqueue_once(sample_jobs.add, 2, 2) is not None


def test_unknown_queue_is_refused():
    with pytest.raises(ValueError, match="unknown queue"):
        jobrunner.enqueue(sample_jobs.add, 1, 1, queue="nope")


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_job_from_redis(redis_for_jobs, settings):
    """The whole path: enqueue on commit -> Redis -> rq worker -> JobRun recorded."""
    for queue in settings.RQ_QUEUES.values():
        queue["ASYNC"] = True
    try:
        with transaction.atomic():
            run = jobrunner.enqueue(sample_jobs.add, 20, 22, queue="builds")
        queue = django_rq.get_queue("builds")
        assert queue.count == 1
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    finally:
        for queue in settings.RQ_QUEUES.values():
            queue["ASYNC"] = False
    run.refresh_from_db()
    assert (run.status, run.result) == ("succeeded", 42)


def test_the_jobs_page_shows_runs_and_errors(client, scientist):
    run = jobrunner.enqueue(sample_jobs.permanent)
    jobrunner.execute(run.pk)
    client.force_login(scientist)
    page = client.get("/jobs/").content.decode()
    assert "permanent" in page and "bad credentials" in page
    detail = client.get(f"/jobs/{run.pk}/").content.decode()
    assert "registry answered 401" in detail
    api = client.get(f"/api/v1/jobs/{run.pk}/").json()
    assert api["status"] == "failed"


def test_a_run_lost_with_its_worker_does_not_block_the_job_forever(settings):
    from datetime import timedelta

    from django.utils import timezone

    stuck = jobrunner.enqueue_once(sample_jobs.add, 5, 5)
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_TIMEOUT + 120)
    JobRun.objects.filter(pk=stuck.pk).update(status="running", started_at=long_ago, heartbeat_at=long_ago)
    fresh = jobrunner.enqueue_once(sample_jobs.add, 5, 5)
    assert fresh is not None and fresh.pk != stuck.pk
    stuck.refresh_from_db()
    assert stuck.status == "failed" and stuck.error.startswith("lost")
