"""The Kubernetes deployment target, over the wire against the kube-apiserver stand-in.

Run: .venv/bin/pytest tests/integrations/test_deploy_kubernetes.py
(without Django: .venv/bin/python -m pytest --noconftest -p no:django -p tests.fixtures.k8s <this file>)
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from integrations.deploy.base import DeployRequest, RolloutStatus, RunningImageChanged
from integrations.deploy.kubernetes import KubernetesTarget
from integrations.errors import Conflict, NotFound, PermanentError, TemporaryError, Unauthorized
from tests.fixtures.k8s import K8sEnv, digest_image, standin_class

DEPLOYMENT_PATH = r"/deployments/web$"


@pytest.fixture
def env(k8s_standin: K8sEnv) -> K8sEnv:
    return k8s_standin


@pytest.fixture
def target(env: K8sEnv) -> Iterator[KubernetesTarget]:
    t = make_target(env)
    yield t
    t.close()


def make_target(env: K8sEnv, **kwargs: object) -> KubernetesTarget:
    return KubernetesTarget(env.namespace, env.deployment, env.container, kubeconfig=env.kubeconfig, **kwargs)


def release(
    env: K8sEnv, release_id: str = "rel-1", image: str | None = None, expected: str | None = ""
) -> DeployRequest:
    return DeployRequest(
        release_id=release_id,
        image=image or env.next_image,
        expected_images=(env.initial_image,) if expected == "" else tuple(filter(None, [expected])),
        model_name="churn",
        model_version="7",
        change_cause=f"release {release_id}: churn model v7",
    )


def follow(target: KubernetesTarget, timeout: float = 20) -> tuple[RolloutStatus, list[RolloutStatus]]:
    seen: list[RolloutStatus] = []
    final = target.watch(seen.append, timeout=timeout)
    return final, seen


def eventually(check: Callable[[], bool], timeout: float = 3) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def annotations_of(env: K8sEnv) -> dict[str, str]:
    return env.read()["metadata"].get("annotations") or {}


def image_of(env: K8sEnv) -> str:
    return env.read()["spec"]["template"]["spec"]["containers"][0]["image"]


def test_it_rolls_out_a_digest_image_and_records_the_release(env: K8sEnv, target: KubernetesTarget) -> None:
    started = target.deploy(release(env))
    final, seen = follow(target)

    assert started.phase == "progressing"
    assert final.phase == "succeeded", final.message
    assert (final.image, final.release_id) == (env.next_image, "rel-1")
    assert final.updated_replicas == final.available_replicas == 2
    assert final.observed_generation == final.generation
    notes = annotations_of(env)
    assert notes["ai.release/release-id"] == "rel-1"
    assert notes["ai.release/model-version"] == "7"
    assert notes["kubernetes.io/change-cause"] == "release rel-1: churn model v7"
    # progress arrives in order: only changes, never back from done, replicas only move forward
    assert seen[-1] == final and all(s.phase == "progressing" for s in seen[:-1])
    assert all(a != b for a, b in itertools.pairwise(seen))
    updated = [s.updated_replicas for s in seen if s.observed_generation == s.generation]
    assert updated == sorted(updated) and len(seen) >= 2


def test_it_sends_one_json_patch_that_tests_the_running_image_first(
    env: K8sEnv, target: KubernetesTarget
) -> None:
    target.deploy(release(env))

    (patch,) = env.requests("PATCH")
    assert patch["contentType"] == "application/json-patch+json"
    ops = patch["body"]
    image_path = "/spec/template/spec/containers/0/image"
    test_at = ops.index({"op": "test", "path": image_path, "value": env.initial_image})
    replace_at = ops.index({"op": "replace", "path": image_path, "value": env.next_image})
    assert test_at < replace_at
    assert {"op": "add", "path": "/metadata/annotations/ai.release~1release-id", "value": "rel-1"} in ops
    assert any(op["path"] == "/metadata/annotations/kubernetes.io~1change-cause" for op in ops)


def test_it_reports_each_status_change_as_it_happens(env: K8sEnv, target: KubernetesTarget) -> None:
    """How fast a change reaches the dashboard is measured by bench/rollout_latency.py."""
    srv = env.require_standin()
    srv.sim.paused = True
    target.deploy(release(env))
    arrivals: list[tuple[float, RolloutStatus]] = []
    watcher = threading.Thread(
        target=target.watch, args=(lambda s: arrivals.append((time.monotonic(), s)), 20), daemon=True
    )
    watcher.start()
    assert eventually(lambda: len(arrivals) == 1)
    time.sleep(0.5)  # the watch is open and idle: nothing changes while the controller is paused
    assert [s.phase for _, s in arrivals] == ["progressing"]
    srv.sim.paused = False
    watcher.join(20)

    statuses = [s for _, s in arrivals]
    assert all(a != b for a, b in itertools.pairwise(statuses))  # each arrival is a change
    assert any(s.observed_generation == s.generation and s.phase == "progressing" for s in statuses)
    updated = [s.updated_replicas for s in statuses if s.observed_generation == s.generation]
    assert updated == sorted(updated)  # seen in the order the cluster went through them
    assert statuses[-1].phase == "succeeded"


def test_it_refuses_to_deploy_when_the_image_was_changed_outside(
    env: K8sEnv, target: KubernetesTarget
) -> None:
    changed_by_hand = digest_image("hotfix")
    env.set_image(changed_by_hand)  # as `kubectl set image` would

    with pytest.raises(RunningImageChanged, match="outside the product") as err:
        target.deploy(release(env))

    assert isinstance(err.value, PermanentError) and not isinstance(
        err.value, TemporaryError
    )  # never retried
    assert image_of(env) == changed_by_hand
    assert "ai.release/release-id" not in annotations_of(env)
    assert changed_by_hand in str(err.value) and env.initial_image in str(err.value)
    if env.srv is not None:
        ours = [r for r in env.requests("PATCH") if r["contentType"] == "application/json-patch+json"]
        assert ours == []  # refused before anything was sent


def test_any_of_the_expected_images_may_run(env: K8sEnv, target: KubernetesTarget) -> None:
    """A change whose outcome was never confirmed leaves two images the product may have set."""
    req = replace(release(env), expected_images=(digest_image("never-ran"), env.initial_image))

    target.deploy(req)

    assert image_of(env) == env.next_image


def test_it_fails_an_unpullable_image_at_the_progress_deadline(env: K8sEnv) -> None:
    env.require_standin()
    target = make_target(env, progress_deadline=2)
    target.deploy(release(env, image=digest_image("pullfail")))
    final, _ = follow(target)

    assert final.phase == "failed"
    assert "deadline" in final.message
    assert any(c.get("reason") == "ProgressDeadlineExceeded" for c in final.conditions)
    assert env.read()["spec"]["progressDeadlineSeconds"] == 2
    assert final.pod_problems and all("ImagePull" in p for p in final.pod_problems)
    # the stand-in's kubelet flips between ErrImagePull and ImagePullBackOff (a real one mostly
    # shows the back-off), so sample status() until it is caught in the back-off state
    assert eventually(lambda: any(": ImagePullBackOff: " in p for p in target.status().pod_problems))
    assert target.status().phase == "failed"


def test_it_reports_a_crash_looping_image(env: K8sEnv, target: KubernetesTarget) -> None:
    env.require_standin()
    target.deploy(release(env, image=digest_image("crashloop")))
    final, seen = follow(target)

    assert final.phase == "failed"
    crash = [p for s in seen for p in s.pod_problems if ": CrashLoopBackOff: " in p]
    assert crash and any("restarts: " in p for p in crash)
    assert any(": CrashLoopBackOff: " in p for p in final.pod_problems)


def test_it_gives_up_watching_after_the_timeout(env: K8sEnv, target: KubernetesTarget) -> None:
    env.require_standin().sim.paused = True
    target.deploy(release(env))
    began = time.monotonic()
    final, seen = follow(target, timeout=1)

    assert final.phase == "failed"
    assert final.message == "timed out after 1s"
    assert seen[-1] == final
    assert time.monotonic() - began < 3


def test_it_resumes_watching_after_410_gone(env: K8sEnv, target: KubernetesTarget) -> None:
    srv = env.require_standin()
    srv.sim.paused = True
    target.deploy(release(env))
    timer = threading.Timer(0.3, lambda: (srv.api.compact(), setattr(srv.sim, "paused", False)))
    timer.start()
    final, _ = follow(target)
    timer.join()

    assert final.phase == "succeeded"
    lists = [r for r in srv.requests if r["path"].endswith("/deployments") and "watch" not in r["query"]]
    assert len(lists) >= 2  # the initial list and the one after 410


@pytest.mark.parametrize("status", [500, 429, 503])
def test_it_treats_a_failing_api_server_as_temporary(
    env: K8sEnv, target: KubernetesTarget, status: int
) -> None:
    env.require_standin().add_fault(path=DEPLOYMENT_PATH, verb="PATCH", status=status, count=1)

    with pytest.raises(TemporaryError) as err:
        target.deploy(release(env))

    assert not isinstance(err.value, Conflict)
    assert image_of(env) == env.initial_image


def test_it_gives_up_on_a_hung_api_server_within_seconds(env: K8sEnv) -> None:
    env.require_standin().add_fault(path=DEPLOYMENT_PATH, verb="*", hang=10, count=None)
    target = make_target(env, request_timeout=1)
    began = time.monotonic()

    with pytest.raises(TemporaryError, match="cannot reach"):
        target.deploy(release(env))

    assert time.monotonic() - began < 4  # one timed-out read and its one retry


def test_it_retries_a_conflicting_patch_once_after_rereading(env: K8sEnv, target: KubernetesTarget) -> None:
    env.require_standin().add_fault(path=DEPLOYMENT_PATH, verb="PATCH", status=409, count=1)

    target.deploy(release(env))

    assert [r["status"] for r in env.requests("PATCH")] == [409, 200]
    assert image_of(env) == env.next_image


def test_it_gives_up_after_a_second_conflict(env: K8sEnv, target: KubernetesTarget) -> None:
    env.require_standin().add_fault(path=DEPLOYMENT_PATH, verb="PATCH", status=409, count=2)

    with pytest.raises(Conflict):
        target.deploy(release(env))

    assert len(env.requests("PATCH")) == 2


def test_it_deploys_the_same_release_only_once(env: K8sEnv, target: KubernetesTarget) -> None:
    first = target.deploy(release(env))
    again = target.deploy(release(env))  # a resumed worker repeating its step

    assert len(env.requests("PATCH")) == 1
    assert again.release_id == first.release_id == "rel-1"
    assert again.generation == first.generation


def test_current_shows_an_image_changed_outside_the_product(env: K8sEnv, target: KubernetesTarget) -> None:
    assert target.current().release_id == ""
    target.deploy(release(env))
    follow(target)
    assert (target.current().image, target.current().release_id) == (env.next_image, "rel-1")

    env.set_image(digest_image("hotfix"))
    now = target.current()

    assert now.image == digest_image("hotfix")
    assert now.release_id == "rel-1" and now.model_version == "7"  # what we released, now drifted


def test_a_missing_deployment_is_not_found(env: K8sEnv) -> None:
    target = KubernetesTarget(env.namespace, "nope", "app", kubeconfig=env.kubeconfig)

    with pytest.raises(NotFound):
        target.check()
    assert target.current() is None


def test_rejected_credentials_are_unauthorized(tmp_path) -> None:
    srv = standin_class()(port=0, controller_delay=0.05, token="right").start()
    try:
        kubeconfig = tmp_path / "wrong-token"
        srv.token = "wrong"
        srv.write_kubeconfig(kubeconfig)
        srv.token = "right"
        with pytest.raises(Unauthorized):
            KubernetesTarget("default", "web", "app", kubeconfig=str(kubeconfig)).check()
    finally:
        srv.stop()


def test_an_unreachable_api_server_is_temporary(tmp_path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        '{"apiVersion": "v1", "kind": "Config", "current-context": "c",'
        f' "clusters": [{{"name": "c", "cluster": {{"server": "http://127.0.0.1:{port}"}}}}],'
        ' "users": [{"name": "u", "user": {}}],'
        ' "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}'
    )

    with pytest.raises(TemporaryError):
        KubernetesTarget("default", "web", "app", kubeconfig=str(kubeconfig)).check()
