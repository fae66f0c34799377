"""With LOG_FORMAT=json every line is one JSON object, and a release can be followed from the
click that approved it to the worker's lines about its rollout by one request id."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from core.logcontext import ContextFilter, JsonFormatter
from core.models import JobRun
from tests.core.test_runstack import free_port
from tests.fixtures.shared import PROJECT_ROOT
from tests.releases.conftest import run_jobs
from tests.releases.helpers import candidate, environment
from tests.support.processes import Processes, wait_for


@contextmanager
def json_log(stream: io.StringIO) -> Iterator[None]:
    """Every line logged meanwhile goes to ``stream`` through the formatter and filter that
    LOG_FORMAT=json configures."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.mark.django_db
def test_the_approving_request_and_the_rollout_job_log_the_same_request_id(
    application: Any, churn_model: Any, scientist: Any, manager: Any, api: Any
) -> None:
    from releases import services

    staging = environment(application, "staging", actor=manager)
    image = candidate(application, churn_model.versions.get(), "img-json-logs")
    release = services.request_release(staging, image=image, actor=scientist)
    api.force_authenticate(manager)

    stream = io.StringIO()
    with json_log(stream):
        answer = api.post(f"/api/v1/releases/{release.pk}/approve/", {"comment": "ok"}, format="json")
        assert answer.status_code == 200, answer.content
        logging.getLogger("tests.json_logs").info("between the request and the worker")
        run_jobs("releases.jobs.process_environment")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]

    request_id = answer["X-Request-ID"]
    run = JobRun.objects.get(name="releases.jobs.process_environment")
    assert run.request_id == request_id  # stored when the request enqueued it

    queued = [
        line
        for line in lines
        if line["message"].startswith(f"job run {run.pk} ") and "queued" in line["message"]
    ]
    assert queued and queued[0]["request_id"] == request_id
    assert {"timestamp", "level", "logger", "message"} <= queued[0].keys()

    between = next(line for line in lines if line["message"] == "between the request and the worker")
    assert between["request_id"] == ""  # outside the request and the job: no request id

    worker = [line for line in lines if line.get("job_run_id") == run.pk]
    assert any("started" in line["message"] for line in worker)
    assert all(line["request_id"] == request_id for line in worker)
    assert all(line["job_name"] == "releases.jobs.process_environment" for line in worker)

    # The job's page and API name the request too, linking to the changes it made.
    assert api.get(f"/api/v1/jobs/{run.pk}/").json()["request_id"] == request_id
    from django.test import Client

    page = Client()
    page.force_login(manager)
    assert f"/audit/?request_id={request_id}" in page.get(f"/jobs/{run.pk}/").content.decode()
    assert all(line["environment_id"] == str(staging.pk) for line in worker)
    about_release = [line for line in worker if line.get("release_id") == str(release.pk)]
    assert any("deploying" in line["message"] for line in about_release)
    assert any(line["message"].startswith(f"release #{release.pk}: ") for line in about_release[1:])


def test_log_format_json_makes_every_line_one_json_object() -> None:
    script = (
        "import django, logging; django.setup(); "
        "logging.getLogger('dashboard.check').warning('it works: %s', 42)"
    )
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "config.settings"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert line["message"] == "it works: 42"
    assert line["level"] == "WARNING"
    assert line["logger"] == "dashboard.check"
    assert line["request_id"] == ""
    assert line["timestamp"].endswith("+00:00")


@pytest.mark.django_db(transaction=True)
def test_gunicorn_writes_its_own_lines_and_the_access_log_as_json_too(processes: Processes) -> None:
    port = free_port()
    web = processes.web(port, LOG_FORMAT="json")
    wait_for(lambda: _answers(port), 60, f"gunicorn\n{processes.log()}")
    answer = requests.get(
        f"http://127.0.0.1:{port}/healthz?probe=1", headers={"X-Request-ID": "lb-77"}, timeout=10
    )
    request_id = answer.headers["X-Request-ID"]
    assert request_id.startswith("lb-77")
    processes.stop_all()

    lines = [json.loads(line) for line in processes.log_of(web).splitlines() if line.strip()]
    access = [
        line for line in lines if line["logger"] == "gunicorn.access" and line["request_id"] == request_id
    ]
    assert len(access) == 1, lines
    assert (
        access[0]["method"] == "GET" and access[0]["path"] == "/healthz" and access[0]["query"] == "probe=1"
    )
    assert access[0]["status"] == 200 and isinstance(access[0]["duration_ms"], int)
    assert access[0]["timestamp"].endswith("+00:00") and access[0]["level"] == "INFO"
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["message"] for line in lines)


def _answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False
