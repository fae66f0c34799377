"""A worker killed in the middle of a job: noticed within seconds, retried by another worker."""

from __future__ import annotations

import pytest

from core import jobrunner
from core.models import JobRun
from tests.jobsupport import sample_jobs
from tests.support.processes import kill_with_work_horse, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
FAST = {"JOB_HEARTBEAT_SECONDS": "1", "JOB_LOST_AFTER": "4"}


def test_a_run_whose_worker_was_killed_is_retried_by_another(processes, tmp_path, client, oncall):
    release_the_job = tmp_path / "go"
    processes.scheduler(**FAST)
    first = processes.worker("default", **FAST)
    run = jobrunner.enqueue(sample_jobs.wait_for_file, str(release_the_job), max_attempts=2)
    wait_for(lambda: JobRun.objects.get(pk=run.pk).status == "running", 60, "the worker to start the job")

    kill_with_work_horse(first)
    wait_for(
        lambda: JobRun.objects.get(pk=run.pk).status != "running",
        30,  # JOB_LOST_AFTER is 4 s; before, a lost run stayed "running" for JOB_TIMEOUT + 60 s
        f"the lost run to be noticed\n{processes.log()}",
    )
    run.refresh_from_db()
    assert run.status in ("retrying", "queued") and run.error.startswith("attempt 1 lost: worker ")
    client.force_login(oncall)
    assert "attempt 1 lost" in client.get(f"/jobs/{run.pk}/").content.decode()

    processes.worker("default", **FAST)
    release_the_job.touch()
    wait_for(lambda: JobRun.objects.get(pk=run.pk).status == "succeeded", 60, f"the retry\n{processes.log()}")
    assert JobRun.objects.get(pk=run.pk).attempts == 2
