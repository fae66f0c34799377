"""``/metrics``: off without METRICS_TOKEN, only for its bearer, and what it counts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import django_rq
import django_rq.settings
import pytest
import requests
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from builds.models import Build
from core.models import JobRun
from releases import services
from releases.models import Release
from tests.fixtures.shared import PROJECT_ROOT
from tests.releases.helpers import candidate, environment
from tests.support.registry_server import free_port

TOKEN = "metrics-token-for-tests-0123456789"
AUTH = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def samples(body: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and labels."""
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


@pytest.fixture
def token(settings: Any) -> str:
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def test_without_a_configured_token_metrics_do_not_exist(client: Any, settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer wrong-token",
        f"Token {TOKEN}",
        f"Basic {TOKEN}",
        f"Bearer {TOKEN}x",
        "Bearer",
        "Bearer \u00e9t\u00e9",  # a header is latin-1 on the wire: not ASCII, still no 500
        "Bearer " + "x" * 10_000,
        "   ",
    ],
)
def test_a_missing_or_wrong_token_is_a_401(client: Any, token: str, header: str | None) -> None:
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    answer = client.get("/metrics", **extra)
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"].startswith("Bearer")
    assert b"dashboard_" not in answer.content


@pytest.mark.django_db
def test_the_token_reads_the_product_figures(
    client: Any, token: str, application: Any, churn_model: Any, scientist: Any, manager: Any
) -> None:
    staging = environment(application, "staging", actor=manager)
    image = candidate(application, churn_model.versions.get(), "img-metrics")  # a succeeded build
    services.request_release(staging, image=image, actor=scientist)
    started = timezone.now() - timedelta(hours=1)
    for seconds, state in ((42, Release.State.SUCCEEDED), (400, Release.State.FAILED)):
        finished = services.request_release(staging, image=image, actor=scientist)
        Release.objects.filter(pk=finished.pk).update(
            state=state, started_at=started, finished_at=started + timedelta(seconds=seconds)
        )
    Build.objects.create(application=application, commit="b" * 40, model_version=image.model_version)
    JobRun.objects.create(name="builds.jobs.run_build", queue="builds", status=JobRun.Status.FAILED)
    JobRun.objects.create(name="builds.jobs.run_build", queue="builds", status=JobRun.Status.FAILED)
    JobRun.objects.create(
        name="models_registry.jobs.sync_model_store",
        status=JobRun.Status.SUCCEEDED,
        finished_at=timezone.now() - timedelta(seconds=120),
    )
    redis = django_rq.get_connection("builds")
    key = django_rq.get_queue("builds").key
    redis.rpush(key, "waiting-1", "waiting-2")
    try:
        answer = client.get("/metrics", **AUTH)
    finally:
        redis.delete(key)

    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain; version=0.0.4")
    found = samples(answer.content)
    where = {"application": application.name, "environment": "staging"}
    assert value(found, "dashboard_releases", **where, state="requested") == 1
    assert value(found, "dashboard_releases", **where, state="succeeded") == 1
    assert value(found, "dashboard_releases", **where, state="failed") == 1
    assert value(found, "dashboard_rollout_duration_seconds_count", **where) == 2
    assert value(found, "dashboard_rollout_duration_seconds_sum", **where) == pytest.approx(442)
    assert value(found, "dashboard_rollout_duration_seconds_bucket", **where, le="60.0") == 1
    assert value(found, "dashboard_rollout_duration_seconds_bucket", **where, le="300.0") == 1
    assert value(found, "dashboard_rollout_duration_seconds_bucket", **where, le="600.0") == 2
    assert value(found, "dashboard_rollout_duration_seconds_bucket", **where, le="+Inf") == 2
    assert value(found, "dashboard_builds", state="succeeded") == 1
    assert value(found, "dashboard_builds", state="queued") == 1
    assert value(found, "dashboard_job_failures_total", job="builds.jobs.run_build") == 2
    assert value(found, "dashboard_queue_depth", queue="builds") == 2
    assert value(found, "dashboard_queue_depth", queue="deploys") == 0
    age = value(found, "dashboard_last_success_age_seconds", job="model_store_sync")
    assert age is not None and 119 <= age < 180
    assert value(found, "dashboard_last_success_age_seconds", job="tag_sync") is None  # never succeeded
    assert value(found, "dashboard_metrics_source_up", source="database") == 1
    assert value(found, "dashboard_metrics_source_up", source="redis") == 1


@pytest.mark.django_db
def test_each_scrape_reads_the_database_once_per_figure(
    client: Any, token: str, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(5):  # releases, rollouts, builds, failures, last successes
        assert client.get("/metrics", **AUTH).status_code == 200


@pytest.mark.django_db
def test_requests_are_counted_by_route_name_method_and_status(client: Any, token: str) -> None:
    def count(view: str, status: str) -> float:
        found = samples(client.get("/metrics", **AUTH).content)
        return value(found, "dashboard_http_requests_total", view=view, method="GET", status=status) or 0

    before_ok, before_missing = count("healthz", "200"), count("<unmatched>", "404")
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no-such-page/")
    assert count("healthz", "200") == before_ok + 2
    assert count("<unmatched>", "404") == before_missing + 1
    found = samples(client.get("/metrics", **AUTH).content)
    assert (
        value(found, "dashboard_http_request_duration_seconds_count", view="healthz", method="GET") or 0
    ) >= 2


def test_gunicorn_workers_requests_add_up_in_one_scrape(tmp_path: Any) -> None:
    """The image's gunicorn settings: several worker processes, one sum (multiprocess mode)."""
    port = free_port()
    env = {
        **os.environ,
        "METRICS_TOKEN": TOKEN,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",  # figures from it are not asserted
        "VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "gunicorn-metrics-test-key",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "config.wsgi", "--config", "config/gunicorn_conf.py"),
            *("--bind", f"127.0.0.1:{port}", "--workers", "3", "--no-control-socket"),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                # A long read timeout: a worker still importing the app answers late, and an
                # answer given up on would still be counted, once too often.
                requests.get(f"{base}/healthz", timeout=(2, 30))
                break
            except requests.ConnectionError:
                assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        with requests.Session() as session:
            for _ in range(29):  # 30 in all, spread over the workers
                session.get(f"{base}/healthz", headers={"Connection": "close"}, timeout=5)
        answer = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert answer.status_code == 200
        found = samples(answer.content)
        assert value(found, "dashboard_http_requests_total", view="healthz", method="GET", status="200") == 30
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    assert server.returncode == 0, errors.decode()[-2000:]


@pytest.mark.django_db
def test_with_redis_down_the_scrape_still_answers_and_says_so(
    client: Any, token: str, monkeypatch: Any
) -> None:
    JobRun.objects.create(name="builds.jobs.run_build", queue="builds", status=JobRun.Status.FAILED)
    with socket.socket() as sock:  # a port nobody listens on: connections are refused
        sock.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    for config in django_rq.settings.QUEUES.values():
        monkeypatch.setitem(config, "URL", dead)
    answer = client.get("/metrics", **AUTH)
    assert answer.status_code == 200
    found = samples(answer.content)
    assert value(found, "dashboard_metrics_source_up", source="redis") == 0
    assert value(found, "dashboard_metrics_source_up", source="database") == 1
    assert not any(name == "dashboard_queue_depth" for name, _ in found)
    # The database's figures are still there.
    assert value(found, "dashboard_job_failures_total", job="builds.jobs.run_build") == 1
