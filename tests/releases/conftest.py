from __future__ import annotations

import contextlib
import socket
from typing import Any

import pytest
from django.contrib.auth.models import Group

from builds.models import Build
from core import jobrunner
from core.models import JobRun
from releases import services as release_services
from releases.models import Environment
from releases.targets import target_for

# Test set-up, trusted like a command run on the server (seed_demo): rules weaker than the
# defaults apply at once instead of waiting for a second person (see releases/rules.py).
SETUP = "system:test-setup"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_jobs(name: str | None = None) -> None:
    """Run queued job runs in this process (what a worker would do), oldest first, until none is left."""
    while True:
        queued = JobRun.objects.filter(status__in=["queued", "retrying"]).order_by("pk")
        if name:
            queued = queued.filter(name=name)
        run = queued.first()
        if run is None:
            return
        jobrunner.execute(run.pk)


def build_image(application: Any, actor: Any, **kwargs: Any) -> Build:
    from builds import services as build_services

    build, _ = build_services.request_build(application, actor=actor, **kwargs)
    run_jobs("builds.jobs.run_build")
    build.refresh_from_db()
    if build.duplicate_of:  # these inputs were built already (e.g. by the rebuild for a new model)
        build = build.duplicate_of
    assert build.state == "succeeded", (build.failure_reason, build.log[-1500:])
    return build


@pytest.fixture
def environments(application: Any, manager: Any, settings: Any, tmp_path: Any) -> Any:
    settings.VAR_DIR = tmp_path / "var"
    managers = Group.objects.get(name="Release manager")
    staging = release_services.create_environment(
        {
            "application": application,
            "name": "staging",
            "order": 1,
            "target_config": {"port": free_port(), "health_timeout": 30},
            "required_approvals": 1,
            "approver_group": managers,
        },
        actor=manager,
    )
    prod = release_services.create_environment(
        {
            "application": application,
            "name": "prod",
            "order": 2,
            "previous": staging,
            "target_config": {"port": free_port(), "health_timeout": 30},
            "required_approvals": 2,
            "approver_group": managers,
        },
        actor=manager,
    )
    yield staging, prod
    for environment in Environment.objects.filter(target_kind="local"):
        with contextlib.suppress(Exception):  # the environment may never have started
            target_for(environment).stop()


@pytest.fixture
def k8s_env(application: Any, manager: Any, k8s_standin: Any) -> Environment:
    """An environment whose target is the Deployment in the Kubernetes stand-in; no approvals needed."""
    return release_services.create_environment(
        {
            "application": application,
            "name": "prod",
            "target_kind": Environment.TargetKind.KUBERNETES,
            "target_config": {
                "namespace": k8s_standin.namespace,
                "deployment": k8s_standin.deployment,
                "container": k8s_standin.container,
                "kubeconfig": k8s_standin.kubeconfig,
            },
            "required_approvals": 0,
            "rollout_timeout": 30,
        },
        actor=SETUP,
    )
