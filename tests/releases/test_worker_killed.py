"""A deploy worker killed with SIGKILL mid-rollout: another worker resumes it without deploying twice.

This runs a real `rqworker` process against the test database and Redis, so it needs a database
other processes can open (PostgreSQL; the in-memory SQLite test database is private).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rq import SimpleWorker

from releases import jobs, services
from releases.models import Release, RolloutEvent
from tests.releases.test_kubernetes_releases import image

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="a second process must see the test database"
    ),
]
ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def kill_with_work_horse(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and the work horse it forked (which runs in a session of its own)."""
    import psutil

    horses = psutil.Process(worker.pid).children(recursive=True)
    for process in [*horses, psutil.Process(worker.pid)]:
        process.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    psutil.wait_procs(horses, timeout=10)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def real_queues():
    for queue in settings.RQ_QUEUES.values():
        queue["ASYNC"] = True
    yield settings.RQ_QUEUES["deploys"]["URL"]
    for queue in settings.RQ_QUEUES.values():
        queue["ASYNC"] = False


def test_a_killed_worker_is_replaced_by_another_that_resumes(
    k8s_env, manager, k8s_standin, churn_model, real_queues, tmp_path
):
    environment = k8s_env
    # The cluster will not finish the rollout while the first worker watches.
    k8s_standin.srv.sim.paused = True
    release = services.request_release(environment, image=image(churn_model, "v2"), actor=manager)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": real_queues,
        "DEPLOY_LEASE_SECONDS": "5",
        "VAR_DIR": str(tmp_path / "worker-var"),
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "deploys"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: any(r.get("status", 200) < 300 for r in k8s_standin.requests("PATCH")),
            60,
            "the first worker's patch",
        )
        wait_for(
            lambda: RolloutEvent.objects.filter(release=release).exists(),
            30,
            "the first worker to record progress",
        )
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
    patches = [r for r in k8s_standin.requests("PATCH") if r.get("status", 200) < 300]
    assert len(patches) == 1  # the new worker did not deploy again
