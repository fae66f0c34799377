"""A Redis that stops answering fails pages within REDIS_TIMEOUT, with a 503 that says why,
instead of holding the web server's threads: sessions, sign-ins and the overview live there."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from config.env import with_query_defaults
from core import jobrunner
from core.models import JobRun
from tests.jobsupport import sample_jobs
from tests.support.silent_server import SilentServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def silent_redis() -> Iterator[str]:
    """Accepts connections and never answers a command."""
    with SilentServer() as server:
        yield f"redis://127.0.0.1:{server.port}/0"


@pytest.fixture
def redis_stops_answering(settings, silent_redis):
    def switch() -> None:
        default = settings.CACHES["default"]  # with the configured timeouts
        assert default["OPTIONS"]["socket_timeout"] == settings.REDIS_TIMEOUT == 3
        settings.CACHES = {"default": {**default, "LOCATION": silent_redis}}

    return switch


@pytest.mark.parametrize("unanswered", ["connect", "refused"])
def test_a_page_answers_503_within_the_timeout_and_says_why(
    client, manager, redis_stops_answering, settings, unanswered, tmp_path
):
    client.force_login(manager)
    assert client.get("/").status_code == 200
    if unanswered == "connect":
        redis_stops_answering()
    else:
        settings.CACHES = {
            "default": {**settings.CACHES["default"], "LOCATION": f"unix://{tmp_path}/gone.sock"}
        }
    client.raise_request_exception = False
    began = time.monotonic()
    page = client.get("/")
    # The session is read, then written back to the cache: two waits of REDIS_TIMEOUT at most.
    assert page.status_code == 503 and time.monotonic() - began < 3 * settings.REDIS_TIMEOUT
    assert "Redis (sessions, sign-ins, queues) does not answer" in page.content.decode()


def test_an_api_call_that_needs_redis_answers_503_as_json(api, redis_stops_answering):
    redis_stops_answering()  # signing in for a token counts attempts in Redis
    api.raise_request_exception = False
    answer = api.post("/api/v1/auth/token/", {"username": "x", "password": "y"}, format="json")
    assert answer.status_code == 503
    assert answer.json() == {
        "detail": "The dashboard's Redis (sessions, sign-ins, queues) does not answer; try again in a moment.",
        "status": 503,
    }


@pytest.mark.django_db(transaction=True)
def test_work_whose_job_redis_does_not_take_is_saved_and_pushed_once_redis_answers(
    settings, silent_redis, caplog
):
    saved = {name: dict(queue) for name, queue in settings.RQ_QUEUES.items()}
    try:
        for queue in settings.RQ_QUEUES.values():  # as settings.py builds it from REDIS_URL
            queue["URL"] = with_query_defaults(silent_redis, socket_timeout=1, socket_connect_timeout=1)
        began = time.monotonic()
        with transaction.atomic():
            run = jobrunner.enqueue(sample_jobs.add, 2, 3)
        assert time.monotonic() - began < 5  # committed, then the push gave up: no exception
    finally:
        for name, queue in settings.RQ_QUEUES.items():
            queue.update(saved[name])
    assert JobRun.objects.get(pk=run.pk).status == "queued"
    assert f"job run {run.pk} (tests.jobsupport.sample_jobs.add) stays queued" in caplog.text

    assert jobrunner.repush_vanished(timezone.now() + timedelta(minutes=1)) == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.result) == ("succeeded", 5)


def test_the_settings_give_the_queues_and_the_cache_the_timeout(tmp_path):
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.RQ_QUEUES['deploys']['URL']); print(s.CACHES['default']['OPTIONS'])"
    )
    env = {
        **os.environ,
        "REDIS_URL": "rediss://:pw@redis.internal:6380/0?ssl_cert_reqs=none",
        "REDIS_TIMEOUT": "7",
    }
    env.update(VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    queues, cache = done.stdout.splitlines()
    assert queues == (
        "rediss://:pw@redis.internal:6380/0?ssl_cert_reqs=none&socket_timeout=7&socket_connect_timeout=7"
    )
    assert cache == "{'socket_timeout': 7, 'socket_connect_timeout': 7}"
    assert (
        with_query_defaults("redis://r/0?socket_timeout=9", socket_timeout=3)
        == "redis://r/0?socket_timeout=9"
    )
