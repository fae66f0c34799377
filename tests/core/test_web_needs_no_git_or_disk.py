"""Web requests never call git and need no writable VAR_DIR (the shipped web pods have neither).

A read-only VAR_DIR is simulated even as root: VAR_DIR lies below a regular file, so every
mkdir or write under it fails (ENOTDIR). The repository is a git host that accepts connections
and never answers; had a request talked to it, it would have hung and the host would count it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import django_rq
import pytest
from cryptography.fernet import Fernet
from django.db import connection

from builds.models import Build
from core import adapters, tokens
from core.models import JobRun
from releases import services as release_services
from tests.fixtures.shared import PROJECT_ROOT
from tests.releases.helpers import candidate, environment, mark_succeeded
from tests.support.silent_git import silent_git_host

BUILD_JOB = "builds.jobs.run_build"


@pytest.fixture
def read_only_var_dir(tmp_path, settings):
    blocker = tmp_path / "a-regular-file"
    blocker.write_text("")
    var = blocker / "var"
    settings.VAR_DIR = var
    settings.GIT_CACHE_DIR = var / "git"
    settings.BUILD_WORKDIR = var / "builds"
    settings.FILE_UPLOAD_TEMP_DIR = str(var / "uploads")
    settings.MODEL_STORE = {**settings.MODEL_STORE, "path": str(var / "models")}
    settings.IMAGE_REGISTRY = {**settings.IMAGE_REGISTRY, "root": str(var / "registry")}
    adapters.clear_caches()
    adapters.clear_caches()
    return var


@pytest.fixture
def silent_repository(application):
    with silent_git_host() as host:
        application.repository_url = host.url
        application.save()
        yield host


@pytest.mark.django_db
def test_pages_answer_without_git_or_a_writable_var_dir(
    client, application, churn_model, manager, scientist, silent_repository, read_only_var_dir
):
    version = churn_model.versions.get()
    env = environment(application, "staging", actor=manager)
    mark_succeeded(
        release_services.request_release(env, image=candidate(application, version, "a"), actor=scientist)
    )
    release = release_services.request_release(
        env, image=candidate(application, version, "b"), actor=scientist
    )
    client.force_login(manager)

    pages = [
        f"/releases/{release.pk}/",
        f"/api/v1/releases/{release.pk}/diff/",
        f"/environments/{env.pk}/",
        "/applications/churn-predictor/",
        "/approvals/",
        "/models/",
        "/models/churn-model/",
        "/models/churn-model/versions/1/",
        "/healthz",
    ]
    for url in pages:
        assert client.get(url).status_code == 200, url
    build_now = client.post("/applications/churn-predictor/", {"commit": "", "model_version": ""})
    assert build_now.status_code == 302
    api = client.post("/api/v1/builds/", {"application": "churn-predictor", "commit": "abcdef1"})
    assert api.status_code == 202, api.json()
    assert client.get(build_now["Location"]).status_code == 200

    assert silent_repository.connections == 0
    assert JobRun.objects.filter(name=BUILD_JOB).count() == Build.objects.filter(commit="").count() == 2
    assert not read_only_var_dir.parent.is_dir()  # the simulation held: nothing could be written


@pytest.fixture
def jobs_wait_in_redis(settings):
    """Jobs stay queued for workers instead of running inside the request (as in production)."""
    for queue in settings.RQ_QUEUES.values():
        queue["ASYNC"] = True
    yield
    for name, queue in settings.RQ_QUEUES.items():
        django_rq.get_queue(name).empty()
        queue["ASYNC"] = False


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("jobs_wait_in_redis")
def test_concurrent_build_now_requests_against_a_silent_git_host_answer_and_queue(
    live_server, application, manager, silent_repository
):
    _, token = tokens.issue(manager, name="test", actor=manager)

    def build_now(prefix: str) -> int:
        body = json.dumps({"application": "churn-predictor", "commit": prefix}).encode()
        request = urllib.request.Request(
            f"{live_server.url}/api/v1/builds/",
            data=body,
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # generous: hung git took 120 s
            return response.status

    # SQLite's in-memory test database is one connection that the live server's threads share:
    # there the requests go one at a time.
    with ThreadPoolExecutor(max_workers=8 if connection.vendor == "postgresql" else 1) as pool:
        statuses = list(pool.map(build_now, [f"abcdef{i}" for i in range(8)]))
    with urllib.request.urlopen(f"{live_server.url}/healthz", timeout=60) as health:
        assert health.status == 200

    assert statuses == [202] * 8
    assert JobRun.objects.filter(name=BUILD_JOB, status="queued").count() == 8
    assert silent_repository.connections == 0


def run_check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Start Django as a web pod would (settings, apps, URLs), in a clean environment."""
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "SECRET_KEY_FILE", "VAR_DIR")}
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_settings_load_from_a_read_only_var_dir_given_a_secret_key(tmp_path):
    blocker = tmp_path / "a-regular-file"
    blocker.write_text("")
    key = Fernet.generate_key().decode()
    result = run_check(
        tmp_path, VAR_DIR=str(blocker / "var"), SECRET_KEY="from-the-secret", FIELD_ENCRYPTION_KEY=key
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "from-the-secret"
    # Every pod must share the field encryption key too: without it, a read-only pod says so.
    missing = run_check(tmp_path, VAR_DIR=str(blocker / "var"), SECRET_KEY="from-the-secret")
    assert missing.returncode != 0
    assert "FIELD_ENCRYPTION_KEY is not set and" in missing.stderr


def test_without_a_secret_key_a_read_only_var_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-regular-file"
    blocker.write_text("")
    result = run_check(tmp_path, VAR_DIR=str(blocker / "var"))
    assert result.returncode != 0
    assert (
        f"SECRET_KEY is not set and {blocker / 'var' / 'secret_key'} cannot be written (Not a directory): "
        "set SECRET_KEY (or SECRET_KEY_FILE), or make VAR_DIR writable"
    ) in result.stderr


def test_with_nothing_set_a_key_is_generated_once_and_kept(tmp_path):
    var = tmp_path / "fresh-var"
    first = run_check(tmp_path, VAR_DIR=str(var))
    second = run_check(tmp_path, VAR_DIR=str(var))
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    key = (var / "secret_key").read_text()
    assert first.stdout.strip() == second.stdout.strip() == key and len(key) >= 50
    assert (var / "secret_key").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in var.iterdir()) == [
        "field_encryption_key",
        "secret_key",
        "static",
        "uploads",
    ]
