"""The local builder end to end: a real git repository of the sample app, the filesystem model
store and real registries (OCI layout directory, CNCF distribution)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from integrations.buildservice.base import BuildRequest
from integrations.buildservice.local import LocalBuilder
from integrations.errors import Cancelled, IntegrityMismatch, NotFound, PermanentError, TemporaryError
from integrations.git import GitCache
from integrations.images import labels
from integrations.images.oci import unpack_image
from integrations.modelstore.filesystem import FilesystemStore
from integrations.registry.base import Registry
from integrations.registry.distribution import DistributionRegistry
from integrations.registry.oci_layout import OciLayoutRegistry
from tests.fixtures.registry import build_small_image, free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "churn-predictor"
APP_PATH = "examples/churn-predictor"
MODEL_KEY = "churn/7/model.json"
FAST_TESTS = "python3 -m unittest discover -s tests -p 'test_scoring.py'"
GIT = ["git", "-c", "user.name=Ada", "-c", "user.email=ada@example.com", "-c", "commit.gpgsign=false"]


def git_commit(repo: Path, message: str) -> str:
    subprocess.run([*GIT, "-C", str(repo), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(repo), "commit", "-q", "-m", message], check=True)
    out = subprocess.run(
        [*GIT, "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository holding a copy of the sample app under examples/churn-predictor."""
    path = tmp_path / "origin"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".model")
    shutil.copytree(EXAMPLE, path / APP_PATH, ignore=ignore)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    git_commit(path, "Add churn-predictor")
    return path


@pytest.fixture
def store(tmp_path: Path) -> FilesystemStore:
    store = FilesystemStore(tmp_path / "models")
    model = EXAMPLE / "models" / "churn-model.json"
    with open(model, "rb") as f:
        store.put(
            MODEL_KEY, f, size=model.stat().st_size, sha256=hashlib.sha256(model.read_bytes()).hexdigest()
        )
    return store


@pytest.fixture
def registry(tmp_path: Path) -> OciLayoutRegistry:
    return OciLayoutRegistry(tmp_path / "registry")


def make_builder(registry: Registry, store: FilesystemStore, tmp_path: Path) -> LocalBuilder:
    return LocalBuilder(registry, store, tmp_path / "work", GitCache(tmp_path / "git-cache"), test_timeout=60)


@pytest.fixture
def builder(registry: OciLayoutRegistry, store: FilesystemStore, tmp_path: Path) -> LocalBuilder:
    return make_builder(registry, store, tmp_path)


@pytest.fixture
def request_for(repo: Path) -> BuildRequest:
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    return BuildRequest(
        build_id=42,
        application="churn-predictor",
        repository_url=str(repo),
        commit=head.stdout.strip(),
        model_name="churn",
        model_version=7,
        model_uri="",
        model_sha256=hashlib.sha256((EXAMPLE / "models" / "churn-model.json").read_bytes()).hexdigest(),
        image_repository="churn-predictor",
        image_tag="42",
        test_command=FAST_TESTS,
        app_path=APP_PATH,
        model_key=MODEL_KEY,
        model_filename="model.json",
    )


def tags(registry: Registry, repository: str) -> list[str]:
    try:
        return list(registry.list_tags(repository))
    except NotFound:
        return []


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.loads(response.read())


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        process.terminate()
        process.wait(10)


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the app exited during start-up"
        try:
            if get_json(f"{url}/healthz")["status"] == "ready":
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"{url}/healthz never said ready")


def test_it_builds_an_image_that_serves_the_model(
    builder: LocalBuilder,
    registry: OciLayoutRegistry,
    request_for: BuildRequest,
    tmp_path: Path,
    started: list,
) -> None:
    lines: list[str] = []
    req = replace(request_for, test_command="python3 -m unittest discover -s tests")
    result = builder.run(req, lines.append)

    assert result.image.digest == registry.resolve("churn-predictor", "42")
    config = registry.get_config("churn-predictor", "42")
    assert config.entrypoint == ["python3", "serve.py"] and config.cmd == [] and config.workdir == "/app"
    assert config.exposed_ports == [8080]
    assert config.labels == result.config_labels
    assert config.labels[labels.OCI_REVISION] == req.commit
    assert config.labels[labels.OCI_SOURCE] == str(request_for.repository_url)
    assert (
        config.labels[labels.MODEL_VERSION] == "7" and config.labels[labels.MODEL_SHA256] == req.model_sha256
    )
    assert config.env["MODEL_PATH"] == "/model/model.json" and config.env["APP_REVISION"] == req.commit
    assert config.env["PORT"] == "8080" and config.env["PYTHONUNBUFFERED"] == "1"
    assert any(line.startswith("==> Running tests") for line in lines)
    assert any(line.startswith("OK") for line in lines)  # unittest's summary, streamed
    assert list((tmp_path / "work").iterdir()) == []  # work directories are removed

    root = tmp_path / "root"
    pulled = registry.pull("churn-predictor", result.image.digest, tmp_path / "pulled")
    unpack_image(pulled.layer_paths, root)
    assert (root / "app" / "serve.py").is_file() and (root / "model" / "model.json").is_file()
    assert not list(root.rglob("__pycache__"))  # the tests ran in a copy

    port = free_port()
    env = {
        **config.env,
        "PATH": os.environ["PATH"],
        "IMAGE_ROOT": str(root),
        "PORT": str(port),
        "HOST": "127.0.0.1",
    }
    process = subprocess.Popen(config.entrypoint, cwd=root / "app", env=env, stdout=subprocess.DEVNULL)
    started.append(process)
    wait_until_ready(f"http://127.0.0.1:{port}", process)
    info = get_json(f"http://127.0.0.1:{port}/info")
    assert (info["model_name"], info["model_version"], info["app_revision"]) == ("churn", "7", req.commit)
    assert info["model_sha256"] == req.model_sha256


@pytest.mark.registry
def test_it_pushes_to_a_distribution_registry(
    distribution_registry_url: str, store: FilesystemStore, request_for: BuildRequest, tmp_path: Path
) -> None:
    registry = DistributionRegistry(distribution_registry_url)
    req = replace(request_for, image_repository=f"apps/churn-{uuid.uuid4().hex[:10]}")  # a shared registry
    result = make_builder(registry, store, tmp_path).run(req, lambda line: None)
    assert registry.resolve(req.image_repository, "42") == result.image.digest
    assert (
        registry.get_config(req.image_repository, result.image.digest).labels[labels.OCI_REVISION]
        == req.commit
    )


def test_it_builds_nothing_when_the_tests_fail(
    builder: LocalBuilder, registry: OciLayoutRegistry, repo: Path, request_for: BuildRequest, tmp_path: Path
) -> None:
    broken = repo / APP_PATH / "tests" / "test_scoring.py"
    broken.write_text(
        broken.read_text()
        + "\n\nclass Broken(unittest.TestCase):\n    def test_it(self):\n        self.fail('boom')\n"
    )
    req = replace(request_for, commit=git_commit(repo, "Break a test"))
    lines: list[str] = []
    with pytest.raises(PermanentError, match=r"tests failed \(exit 1\)"):
        builder.run(req, lines.append)
    assert any("boom" in line for line in lines)
    assert not any(line.startswith("==> Fetching model") for line in lines)
    assert tags(registry, "churn-predictor") == []
    assert list((tmp_path / "work").iterdir()) == []


def test_it_reports_an_unknown_commit(builder: LocalBuilder, request_for: BuildRequest) -> None:
    with pytest.raises(NotFound, match="commit 0123abc is not in"):
        builder.run(replace(request_for, commit="0123abc"), lambda line: None)


def test_it_refuses_a_model_whose_sha256_does_not_match(
    builder: LocalBuilder, registry: OciLayoutRegistry, request_for: BuildRequest
) -> None:
    wrong = "0" * 64
    with pytest.raises(IntegrityMismatch, match=f"model sha256 mismatch: expected {wrong}, got "):
        builder.run(replace(request_for, model_sha256=wrong, test_command=""), lambda line: None)
    assert tags(registry, "churn-predictor") == []


def test_it_stops_the_tests_when_cancelled(
    builder: LocalBuilder, registry: OciLayoutRegistry, request_for: BuildRequest, tmp_path: Path
) -> None:
    pid_file = tmp_path / "sleeper.pid"
    command = f"sleep 60 & echo $! > {pid_file}; echo started; wait"
    asked = threading.Event()

    def log(line: str) -> None:
        if line == "started":
            asked.set()

    begun = time.monotonic()
    with pytest.raises(Cancelled):
        builder.run(replace(request_for, test_command=command), log, cancelled=asked.is_set)
    assert time.monotonic() - begun < 15
    sleeper = int(pid_file.read_text())
    status = Path(f"/proc/{sleeper}/status")
    assert not status.exists() or "zombie" in status.read_text()  # the whole process group was stopped
    assert tags(registry, "churn-predictor") == []


def test_it_stops_tests_that_run_too_long(
    registry: OciLayoutRegistry, store: FilesystemStore, request_for: BuildRequest, tmp_path: Path
) -> None:
    builder = LocalBuilder(
        registry, store, tmp_path / "work", GitCache(tmp_path / "git-cache"), test_timeout=1
    )
    with pytest.raises(PermanentError, match="tests did not finish within 1 s"):
        builder.run(replace(request_for, test_command="sleep 30"), lambda line: None)


def test_it_reports_a_model_missing_from_the_store(builder: LocalBuilder, request_for: BuildRequest) -> None:
    with pytest.raises(NotFound, match=r"model file churn/8/model\.json is not in the model store"):
        builder.run(replace(request_for, model_key="churn/8/model.json", test_command=""), lambda line: None)


def test_it_reports_an_unreachable_registry_as_temporary(
    store: FilesystemStore, request_for: BuildRequest, tmp_path: Path
) -> None:
    registry = DistributionRegistry(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TemporaryError):
        make_builder(registry, store, tmp_path).run(
            replace(request_for, test_command="true"), lambda line: None
        )


def test_it_puts_the_layers_of_a_base_image_first(
    builder: LocalBuilder, registry: OciLayoutRegistry, request_for: BuildRequest, tmp_path: Path
) -> None:
    base = registry.push_image("base/python", "3.11", build_small_image(tmp_path / "base"))
    req = replace(request_for, test_command="", base_image="base/python:3.11")
    result = builder.run(req, lambda line: None)

    pulled = registry.pull("churn-predictor", result.image.digest, tmp_path / "pulled")
    base_pulled = registry.pull("base/python", base.digest, tmp_path / "base-pulled")
    assert [p.name for p in pulled.layer_paths[:2]] == [p.name for p in base_pulled.layer_paths]
    assert len(pulled.layer_paths) == 4
    assert pulled.config.env["MODEL_PATH"] == "/model/model.json"  # ours win over the base's
    assert pulled.config.entrypoint == ["python3", "serve.py"]
    root = tmp_path / "root"
    unpack_image(pulled.layer_paths, root)
    assert (root / "app" / "main.py").is_file() and (root / "app" / "serve.py").is_file()
