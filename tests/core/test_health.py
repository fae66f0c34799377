from __future__ import annotations

import pytest

from models_registry import services

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_redis_and_store(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert set(response.json()["checks"]) == {"database", "redis", "model_store"}


def test_readyz_is_503_with_the_reason_when_the_store_is_unusable(client, settings, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    settings.MODEL_STORE = {**settings.MODEL_STORE, "path": str(blocker / "models")}
    services.get_store.cache_clear()
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
