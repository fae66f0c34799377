from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from django.db import transaction
from django.utils import timezone
from rq import SimpleWorker

from core import jobrunner
from core.models import JobRun
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


def test_a_temporary_error_waits_in_the_database_until_it_is_due(
    settings, django_capture_on_commit_callbacks
):
    settings.JOB_RETRY_DELAY = 30
    run = jobrunner.enqueue(sample_jobs.always_temporary, max_attempts=2)
    jobrunner.execute(run.pk)
    run.refresh_from_db()
    assert run.status == "retrying"
    assert run.error.startswith("attempt 1 of 2 failed, retrying at ") and "503" in run.error
    assert 25 < (run.run_after - timezone.now()).total_seconds() <= 30
    # Nothing waits in RQ's own scheduler, which only the holder of its lock would move.
    assert django_rq.get_queue("default").scheduled_job_registry.get_job_ids() == []

    assert jobrunner.queue_due_retries() == []  # not due yet
    with django_capture_on_commit_callbacks(execute=True):  # queues run jobs in-process in tests
        assert jobrunner.queue_due_retries(run.run_after) == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("failed", 2)
    assert run.error.startswith("gave up after 2 attempt(s)")


def test_a_due_retry_is_queued_by_one_scheduler_only(settings, django_capture_on_commit_callbacks):
    run = jobrunner.enqueue(sample_jobs.always_temporary, max_attempts=3)
    jobrunner.execute(run.pk)
    due = JobRun.objects.get(pk=run.pk).run_after
    with django_capture_on_commit_callbacks() as pushes:
        first = jobrunner.queue_due_retries(due)
        second = jobrunner.queue_due_retries(due)
    assert (first, second, len(pushes)) == ([run.pk], [], 1)
    assert JobRun.objects.get(pk=run.pk).status == "queued"


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


def lost(run: JobRun, seconds_ago: float, attempts: int = 1) -> None:
    """What a worker killed mid-run leaves behind: running, its heartbeat stopped long ago."""
    beat = timezone.now() - timedelta(seconds=seconds_ago)
    JobRun.objects.filter(pk=run.pk).update(
        status="running", started_at=beat, heartbeat_at=beat, attempts=attempts, worker="host:123"
    )


def test_a_run_whose_worker_stopped_beating_is_retried_within_seconds(settings):
    settings.JOB_LOST_AFTER = 20
    run = jobrunner.enqueue(sample_jobs.add, 5, 5, max_attempts=2)
    lost(run, seconds_ago=10)
    assert jobrunner.recover_lost_runs() == []  # still within JOB_LOST_AFTER
    lost(run, seconds_ago=25)
    assert jobrunner.recover_lost_runs() == [run.pk]
    run.refresh_from_db()
    assert run.status == "retrying" and run.run_after <= timezone.now()
    assert run.error.startswith("attempt 1 lost: worker host:123 stopped answering")
    assert jobrunner.enqueue_once(sample_jobs.add, 5, 5) is None  # the retry is the run


def test_a_lost_run_without_attempts_left_fails_with_the_reason(settings):
    run = jobrunner.enqueue(sample_jobs.add, 1, 2, max_attempts=1)
    lost(run, seconds_ago=settings.JOB_LOST_AFTER + 5)
    jobrunner.recover_lost_runs()
    run.refresh_from_db()
    assert run.status == "failed" and "no attempts left" in run.error and run.finished_at


def test_a_worker_that_lost_its_run_cannot_overwrite_the_retry():
    run = jobrunner.enqueue(sample_jobs.add, 1, 1, max_attempts=3)
    first_attempt = jobrunner._claim(run.pk)
    lost(run, seconds_ago=3600, attempts=1)
    jobrunner.recover_lost_runs()
    assert jobrunner.execute(run.pk) == 2  # attempt 2 runs and succeeds
    jobrunner._finish(first_attempt, JobRun.Status.FAILED, error="the old worker woke up")
    run.refresh_from_db()
    assert (run.status, run.attempts, run.error) == ("succeeded", 2, "")


@pytest.mark.django_db(transaction=True)
def test_a_running_job_stamps_its_heartbeat(settings):
    settings.JOB_HEARTBEAT_SECONDS = 0.2
    run = jobrunner.enqueue(sample_jobs.wait_for_own_heartbeat, 10)  # runs in-process on commit
    run.refresh_from_db()
    assert (run.status, run.result) == ("succeeded", True)


def test_the_periodic_tick_keeps_its_cadence_after_its_worker_died(
    settings, django_capture_on_commit_callbacks
):
    from core import periodic, scheduler

    tick = jobrunner.enqueue_once("releases.jobs.tick", queue="deploys")
    lost(tick, seconds_ago=settings.JOB_LOST_AFTER + 1)
    with django_capture_on_commit_callbacks(execute=True):
        done = scheduler.run_once(check_vanished=False)
    tick.refresh_from_db()
    assert done.lost == [tick.pk] and done.retried == [tick.pk]
    assert (tick.status, tick.attempts) == ("succeeded", 2)
    assert "releases.jobs.tick" in periodic.periodic_jobs()


def test_periodic_jobs_start_once_per_interval_across_schedulers(settings):
    from core import periodic

    settings.MODEL_SYNC_INTERVAL = settings.GIT_POLL_INTERVAL = settings.TAG_SYNC_INTERVAL = 0
    settings.STALL_CHECK_INTERVAL = settings.DRIFT_CHECK_INTERVAL = 0
    settings.RELEASE_TICK_INTERVAL = 60
    redis = django_rq.get_connection("default")
    redis.delete(periodic.SLOT_KEY.format(name="releases.jobs.tick"))
    first = periodic.start_due(redis)  # one scheduler
    second = periodic.start_due(django_rq.get_connection("deploys"))  # another, a moment later
    assert list(first) == ["releases.jobs.tick"] and second == {}
    assert JobRun.objects.filter(name="releases.jobs.tick").count() == 1
    assert 55 < redis.ttl(periodic.SLOT_KEY.format(name="releases.jobs.tick")) <= 60


@pytest.mark.django_db(transaction=True)
def test_a_queued_run_whose_redis_job_vanished_is_pushed_again(redis_for_jobs, real_queues):
    run = jobrunner.enqueue(sample_jobs.add, 20, 22, queue="builds")
    queue = django_rq.get_queue("builds")
    queue.connection.flushdb()  # Redis restarted without persistence
    assert jobrunner.repush_vanished() == []  # too young to tell
    assert jobrunner.repush_vanished(timezone.now() + timedelta(seconds=60)) == [run.pk]
    assert jobrunner.repush_vanished(timezone.now() + timedelta(seconds=60)) == []  # it is there now
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    run.refresh_from_db()
    assert (run.status, run.result) == ("succeeded", 42)


def test_given_up_on_reads_the_newest_run_of_that_job_for_each_object(make_user):
    from django.contrib.auth import get_user_model

    alice, bob, carol, dave = (make_user(name) for name in ("alice", "bob", "carol", "dave"))

    def run(user, status, error="", func=sample_jobs.add):
        JobRun.objects.create(
            name=jobrunner.dotted(func),
            queue="default",
            object_type="auth.user",
            object_id=str(user.pk),
            status=status,
            error=error,
        )

    run(alice, "failed", "the worker stopped answering")
    run(bob, "failed", "an older attempt")
    run(bob, "running")  # tried again since: not given up
    run(carol, "succeeded")
    run(dave, "failed", "another job's failure", func=sample_jobs.crash)

    users = get_user_model().objects.all()
    assert jobrunner.given_up_on(sample_jobs.add, users) == [(alice, "the worker stopped answering")]
    assert jobrunner.given_up_on(sample_jobs.add, users.exclude(pk=alice.pk)) == []
