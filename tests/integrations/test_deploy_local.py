"""The local deployment target: real images of examples/churn-predictor, run as host processes.

Images are built with our own builder and pushed into an OCI-layout registry under tmp_path;
every test gets its own state directory and port, and stops everything it started.

Run: .venv/bin/pytest tests/integrations/test_deploy_local.py
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from integrations.deploy.base import DeployRequest, RolloutStatus, RunningImageChanged
from integrations.deploy.local import LocalProcessTarget
from integrations.errors import NotFound, PermanentError
from integrations.images import ImageConfig, LayerSource, build_image
from integrations.registry.oci_layout import OciLayoutRegistry

APP = Path(__file__).resolve().parents[2] / "examples" / "churn-predictor"
REPOSITORY = "churn-predictor"


@dataclass(frozen=True)
class Images:
    registry_root: Path
    v1: str
    v2: str
    bad_model: str  # MODEL_SHA256 does not match the model: the app exits with code 1
    bad_entrypoint: str


def build_churn_image(work: Path, registry: OciLayoutRegistry, version: str, **overrides: object) -> str:
    """An image of the example app with its sample model relabelled as ``version``."""
    app = work / "app"
    app.mkdir(parents=True)
    for name in ("serve.py", "scoring.py"):
        shutil.copy(APP / name, app / name)
    model = json.loads((APP / "models" / "churn-model.json").read_text())
    model["version"] = version
    model_file = work / "model.json"
    model_file.write_text(json.dumps(model))
    env = {
        "MODEL_PATH": "/model/model.json",
        "MODEL_NAME": "churn",
        "MODEL_VERSION": version,
        "MODEL_SHA256": hashlib.sha256(model_file.read_bytes()).hexdigest(),
        "PORT": "8080",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        **overrides.pop("env", {}),  # type: ignore[dict-item]
    }
    spec = ImageConfig(
        labels={"ai.release.model.version": version},
        entrypoint=overrides.pop("entrypoint", ["python3", "serve.py"]),  # type: ignore[arg-type]
        cmd=[],
        workdir="/app",
        env=env,
        exposed_ports=[8080],
        created=datetime(2024, 5, 1, tzinfo=UTC),
    )
    built = build_image(
        [LayerSource(app, "/app"), LayerSource(model_file, "/model/model.json")], spec, work / "image"
    )
    ref = registry.push_image(REPOSITORY, version.replace("+", "-"), built)
    return registry.reference(REPOSITORY, ref.digest)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    work = tmp_path_factory.mktemp("images")
    registry = OciLayoutRegistry(work / "registry")
    return Images(
        registry_root=work / "registry",
        v1=build_churn_image(work / "v1", registry, "1"),
        v2=build_churn_image(work / "v2", registry, "2"),
        bad_model=build_churn_image(work / "bad", registry, "3", env={"MODEL_SHA256": "0" * 64}),
        bad_entrypoint=build_churn_image(work / "noexec", registry, "4", entrypoint=["no-such-program"]),
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def make_target(images: Images, tmp_path: Path) -> Iterator:
    made: list[LocalProcessTarget] = []
    port = free_port()

    def make(registry_root: Path | None = None, name: str = "env", **kwargs: object) -> LocalProcessTarget:
        registry = OciLayoutRegistry(registry_root or images.registry_root)
        env_port = port if name == "env" else free_port()
        target = LocalProcessTarget(registry, tmp_path / name, env_port, **kwargs)  # type: ignore[arg-type]
        made.append(target)
        return target

    yield make
    for target in made:
        target.stop()


@pytest.fixture
def target(make_target) -> LocalProcessTarget:  # type: ignore[no-untyped-def]
    return make_target()


def release(release_id: str, image: str, expected: str | None = None, version: str = "") -> DeployRequest:
    return DeployRequest(
        release_id=release_id,
        image=image,
        expected_images=(expected,) if expected else (),
        model_name="churn",
        model_version=version or release_id,
        change_cause=f"release {release_id}",
    )


def roll_out(target: LocalProcessTarget, req: DeployRequest, timeout: float = 20) -> RolloutStatus:
    target.deploy(req)
    return target.watch(lambda _: None, timeout=timeout)


def served_version(target: LocalProcessTarget) -> str:
    return requests.get(f"{target.url()}info", timeout=5).json()["model_version"]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def started_pids(target: LocalProcessTarget) -> set[int]:
    state = json.loads((target.state_dir / "state.json").read_text())
    return {state["supervisor"]["pid"], *(p["pid"] for p in state["processes"])}


def test_it_serves_a_release_then_switches_to_the_next_without_a_failed_request(
    images: Images, target: LocalProcessTarget
) -> None:
    seen: list[RolloutStatus] = []
    target.deploy(release("rel-1", images.v1))
    first = target.watch(seen.append, timeout=20)
    assert first.phase == "succeeded", first.message
    assert served_version(target) == "1"
    assert any("waiting for health" in s.message for s in seen) and "switched over" in first.message
    old_pid = json.loads((target.state_dir / "state.json").read_text())["current"]["pid"]

    served, failures, stop = set(), [], threading.Event()

    def hammer() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    answer = session.get(f"{target.url()}info", timeout=5)
                    answer.raise_for_status()
                    served.add(answer.json()["model_version"])
                except requests.RequestException as exc:
                    failures.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 30
        while "1" not in served and time.monotonic() < deadline:
            time.sleep(0.05)  # the clients are in full swing before the switch
        second = roll_out(target, release("rel-2", images.v2, expected=images.v1))
        time.sleep(1.5)  # past the drain: the old process is stopped while requests keep coming
    finally:
        stop.set()
        for t in threads:
            t.join()

    assert second.phase == "succeeded", second.message
    assert served_version(target) == "2"
    assert failures == [] and served == {"1", "2"}  # answered all along, across the switch
    deadline = time.monotonic() + 30  # drain, then SIGTERM, then SIGKILL after the grace period
    while alive(old_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(old_pid)
    running = target.current()
    assert (running.release_id, running.image, running.model_version) == ("rel-2", images.v2, "rel-2")


def test_a_release_that_exits_fails_with_its_log_and_the_old_one_keeps_serving(
    images: Images, target: LocalProcessTarget
) -> None:
    roll_out(target, release("rel-1", images.v1))

    failed = roll_out(target, release("rel-bad", images.bad_model, expected=images.v1))

    assert failed.phase == "failed"
    assert "exited with code 1" in failed.message and "MODEL_SHA256" in failed.message
    assert (failed.release_id, failed.image) == ("rel-bad", images.bad_model)
    assert served_version(target) == "1"
    assert target.current().release_id == "rel-1"
    # what the product attempted last also counts as expected (Kubernetes keeps it in its spec)
    assert roll_out(target, release("rel-2", images.v2, expected=images.bad_model)).phase == "succeeded"


def test_a_release_that_cannot_start_fails_with_the_reason(
    images: Images, target: LocalProcessTarget
) -> None:
    failed = roll_out(target, release("rel-1", images.bad_entrypoint))

    assert failed.phase == "failed"
    assert "cannot start 'no-such-program'" in failed.message
    assert target.current() is None


def test_a_release_that_never_becomes_healthy_fails_after_the_timeout(images: Images, make_target) -> None:  # type: ignore[no-untyped-def]
    target = make_target(health_path="/no-such-path", health_timeout=1.0)

    failed = roll_out(target, release("rel-1", images.v1))

    assert failed.phase == "failed"
    assert "not healthy after 1s" in failed.message and "/no-such-path" in failed.message
    assert json.loads((target.state_dir / "state.json").read_text())["processes"] == []


def test_a_rollback_reuses_the_unpacked_image_without_pulling(
    images: Images, make_target, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    own_registry = tmp_path / "registry"
    shutil.copytree(images.registry_root, own_registry)
    target = make_target(own_registry)
    roll_out(target, release("rel-1", images.v1))
    roll_out(target, release("rel-2", images.v2, expected=images.v1))
    shutil.rmtree(own_registry)  # any pull would fail now

    back = roll_out(target, release("rel-3", images.v1, expected=images.v2))

    assert back.phase == "succeeded", back.message
    assert served_version(target) == "1"
    assert target.current().release_id == "rel-3"


def test_it_deploys_the_same_release_only_once(images: Images, target: LocalProcessTarget) -> None:
    first = target.deploy(release("rel-1", images.v1))
    again = target.deploy(release("rel-1", images.v1))  # a resumed worker, mid-rollout
    final = target.watch(lambda _: None, timeout=20)
    pid = json.loads((target.state_dir / "state.json").read_text())["current"]["pid"]

    after = target.deploy(release("rel-1", images.v1))  # and once it is done

    assert first.generation == again.generation == after.generation == 1
    assert final.phase == after.phase == "succeeded"
    assert json.loads((target.state_dir / "state.json").read_text())["current"]["pid"] == pid
    assert (target.state_dir / "releases" / "rel-1.log").read_text().count("listening on") == 1


def test_it_refuses_to_deploy_over_an_image_it_did_not_expect(images: Images, make_target) -> None:  # type: ignore[no-untyped-def]
    target, empty = make_target(), make_target(name="empty")
    roll_out(target, release("rel-1", images.v1))

    with pytest.raises(RunningImageChanged, match="changed outside"):
        target.deploy(release("rel-2", images.v2, expected=images.bad_model))
    with pytest.raises(RunningImageChanged, match="runs nothing"):
        empty.deploy(release("rel-2", images.v2, expected=images.v1))

    assert target.status().release_id == "rel-1" and served_version(target) == "1"
    assert not (empty.state_dir / "state.json").exists()  # a refused deploy starts nothing


def test_a_new_target_object_sees_and_keeps_serving_the_environment(images: Images, make_target) -> None:  # type: ignore[no-untyped-def]
    first = make_target()
    roll_out(first, release("rel-1", images.v1))

    second = make_target()

    assert second.current() == first.current()
    assert second.current().release_id == "rel-1" and second.status().phase == "succeeded"
    assert roll_out(second, release("rel-2", images.v2, expected=images.v1)).phase == "succeeded"
    assert served_version(first) == "2"


def test_a_killed_supervisor_is_reported_and_a_redeploy_brings_the_release_back(
    images: Images, target: LocalProcessTarget
) -> None:
    roll_out(target, release("rel-1", images.v1))
    supervisor, app = sorted(started_pids(target), key=lambda p: p != target_supervisor(target))
    os.kill(supervisor, signal.SIGKILL)
    os.waitpid(supervisor, 0)

    down = target.status()
    again = roll_out(target, release("rel-1", images.v1))

    assert down.phase == "failed" and "supervisor is not running" in down.message
    assert again.phase == "succeeded" and served_version(target) == "1"
    assert not alive(app)  # the orphaned process was replaced, not left running


def target_supervisor(target: LocalProcessTarget) -> int:
    return json.loads((target.state_dir / "state.json").read_text())["supervisor"]["pid"]


def test_a_release_that_crashes_is_started_again(images: Images, target: LocalProcessTarget) -> None:
    roll_out(target, release("rel-1", images.v1))
    crashed = json.loads((target.state_dir / "state.json").read_text())["current"]["pid"]

    os.kill(crashed, signal.SIGKILL)

    def restarted() -> bool:
        pid = json.loads((target.state_dir / "state.json").read_text())["current"]["pid"]
        return pid != crashed and target.status().available_replicas == 1

    deadline = time.monotonic() + 10
    while not restarted() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert restarted() and served_version(target) == "1"
    assert target.status().phase == "succeeded" and target.current().release_id == "rel-1"
    assert "exited with code -9" in (target.state_dir / "supervisor.log").read_text()


def test_an_image_from_another_registry_is_refused(images: Images, target: LocalProcessTarget) -> None:
    with pytest.raises(PermanentError, match="not in the oci-layout registry"):
        target.deploy(release("rel-1", "elsewhere.example/churn-predictor@sha256:" + "a" * 64))
    with pytest.raises(NotFound):
        target.deploy(release("rel-2", f"localhost/{REPOSITORY}@sha256:" + "b" * 64))
    assert target.status().phase == "failed"


def test_stop_leaves_no_process_behind(images: Images, target: LocalProcessTarget) -> None:
    roll_out(target, release("rel-1", images.v1))
    pids = started_pids(target)

    target.stop()

    assert len(pids) == 2 and not any(alive(pid) for pid in pids)
    assert target.current() is None
    with pytest.raises(NotFound):
        target.status()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", target.port)) != 0
