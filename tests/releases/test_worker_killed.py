"""Deploy workers killed with SIGKILL: the release goes out anyway, once, and on time.

These run the product's real processes (``manage.py rqworker``, ``manage.py runscheduler``)
against the test database and Redis, on PostgreSQL and on SQLite alike.
"""

from __future__ import annotations

import django_rq
import pytest
from django.utils import timezone
from rq import SimpleWorker

from core.models import JobRun
from releases import jobs, services
from releases.models import Release, RolloutEvent
from tests.releases.test_kubernetes_releases import image
from tests.support.processes import kill_with_work_horse, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
# Short enough that the tests are quick, long enough for two loaded cores.
FAST = {"DEPLOY_LEASE_SECONDS": "5", "JOB_HEARTBEAT_SECONDS": "1", "JOB_LOST_AFTER": "4"}


def test_a_killed_worker_is_replaced_by_another_that_resumes(
    k8s_env, manager, k8s_standin, churn_model, processes
):
    # The cluster will not finish the rollout while the first worker watches.
    k8s_standin.srv.sim.paused = True
    release = services.request_release(k8s_env, image=image(churn_model, "v2"), actor=manager)
    worker = processes.worker("deploys", **FAST)
    try:
        wait_for(lambda: k8s_standin.succeeded("PATCH"), 60, "the first worker's patch")
        wait_for(lambda: RolloutEvent.objects.filter(release=release).exists(), 30, "recorded progress")
    finally:
        kill_with_work_horse(worker)
    assert Release.objects.get(pk=release.pk).state == "deploying"
    k8s_standin.srv.sim.paused = False  # the cluster finishes the rollout; nobody is watching
    wait_for(
        lambda: Release.objects.get(pk=release.pk).lease_expires_at < timezone.now(), 30, "the lease to lapse"
    )

    jobs.tick()  # notices the lapsed lease and queues the environment again
    queue = django_rq.get_queue("deploys")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)

    release.refresh_from_db()
    assert release.state == "succeeded", release.state_reason
    assert RolloutEvent.objects.filter(release=release, message__startswith="resumed by worker").exists()
    assert len(k8s_standin.succeeded("PATCH")) == 1  # the new worker did not deploy again


@pytest.mark.parametrize("replicas", [1, 2])
def test_a_retry_fires_on_time_when_the_worker_is_killed_and_restarted_at_once(
    k8s_env, manager, k8s_standin, churn_model, processes, replicas
):
    """A pod restart right after a temporary Kubernetes error: the retry is not stuck behind
    a scheduler lock the dead worker held."""
    k8s_standin.srv.add_fault(
        path=rf"/deployments/{k8s_standin.deployment}$", verb="PATCH", status=500, count=1
    )
    settings = {**FAST, "JOB_RETRY_DELAY": "2"}
    processes.scheduler(**settings)
    first = processes.worker("deploys", **settings)
    release = services.request_release(k8s_env, image=image(churn_model, "v2"), actor=manager)
    deploy_runs = JobRun.objects.filter(name="releases.jobs.process_environment")
    wait_for(
        lambda: deploy_runs.filter(status="retrying").exists(), 60, "the first attempt's temporary error"
    )
    assert "temporary error on attempt 1 of" in Release.objects.get(pk=release.pk).state_reason

    kill_with_work_horse(first)
    for _ in range(replicas):
        processes.worker("deploys", **settings)

    wait_for(
        lambda: Release.objects.get(pk=release.pk).state == "succeeded",
        60,  # the retry is due after 2 s; before, it waited for RQ's 10-minute maintenance
        f"the release to succeed\n{processes.log()}",
    )
    assert len(k8s_standin.succeeded("PATCH")) == 1
    assert deploy_runs.get().attempts == 2
