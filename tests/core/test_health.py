from __future__ import annotations

import threading
import time

import pytest

from core import adapters, health
from tests.fixtures.azurite import devstore_connection_string
from tests.support.silent_server import SilentServer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_checks():
    """Each test starts without runs left over (a hung one would answer for it)."""
    for check in health.CHECKS.values():
        check.forget()
    yield
    for check in health.CHECKS.values():
        check.forget()


@pytest.fixture
def hung_store(settings):
    """The model store on Azure at an address that accepts connections and never answers."""
    with SilentServer() as server:
        azure_store_at(settings, server.port)
        yield server
    adapters.clear_caches()


def readiness_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("readyz-model_store")]


def test_healthz_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_touches_neither_the_database_nor_the_store(client, hung_store, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/healthz").status_code == 200
    assert not hung_store.accepted.acquire(timeout=0.5)  # nobody connected to the store


def test_readyz_checks_database_redis_and_store(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert set(response.json()["checks"]) == {"database", "redis", "model_store"}


def probe(client) -> tuple[object, float]:
    started = time.monotonic()
    response = client.get("/readyz")
    return response, time.monotonic() - started


def test_readyz_answers_within_seconds_when_the_store_hangs_and_probes_do_not_pile_up(client, hung_store):
    answers = [probe(client)]
    assert hung_store.accepted.acquire(timeout=10)  # the store check is connected, and waiting
    answers += [probe(client), probe(client)]

    for response, took in answers:
        # The store's own client would wait 3 x 30 s; the probe gives up after CHECK_DEADLINE.
        assert took < 15
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"]["ok"] and checks["redis"]["ok"]
        assert checks["model_store"]["ok"] is False
        assert checks["model_store"]["error"].startswith("no answer for ")
    # One hung check at a time: the later probes reported it instead of connecting again.
    assert len(hung_store.connections) == 1
    assert readiness_threads() == ["readyz-model_store"]


def azure_store_at(settings, port: int) -> None:
    settings.MODEL_STORE = {
        "kind": "azure",
        "connection_string": devstore_connection_string(port),
        "account_url": "",
        "container": "models",
        "prefix": "",
    }
    adapters.clear_caches()


def test_readyz_recovers_once_the_hung_check_has_ended(client, settings, tmp_path):
    with SilentServer() as server:
        azure_store_at(settings, server.port)
        client.get("/readyz")
        assert server.accepted.acquire(timeout=10)
        settings.MODEL_STORE = {"kind": "filesystem", "path": str(tmp_path / "models")}
        adapters.clear_caches()
        assert client.get("/readyz").status_code == 503  # the hung run still answers for the store
    # The server hung up: the stuck run ends (reset, then refused), and the next probe checks anew.
    deadline = time.monotonic() + 60
    while readiness_threads() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.get("/readyz").status_code == 200


def test_readyz_is_503_with_the_reason_when_the_store_is_unusable(client, settings, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    settings.MODEL_STORE = {**settings.MODEL_STORE, "path": str(blocker / "models")}
    adapters.clear_caches()
    response = client.get("/readyz")
    assert response.status_code == 503
    check = response.json()["checks"]["model_store"]
    assert not check["ok"] and "not usable" in check["error"]


def test_readyz_is_503_when_redis_is_down(client, settings, tmp_path):
    saved = {name: dict(queue) for name, queue in settings.RQ_QUEUES.items()}
    try:
        for queue in settings.RQ_QUEUES.values():
            queue["URL"] = f"unix://{tmp_path}/no-redis.sock"
        response = client.get("/readyz")
    finally:
        for name, queue in settings.RQ_QUEUES.items():
            queue.update(saved[name])
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False
