"""A Redis that stops answering fails pages within REDIS_TIMEOUT, with a 503 that says why,
instead of holding the web server's threads: sessions, sign-ins and the overview live there."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def silent_redis() -> Iterator[str]:
    """Accepts connections (the kernel completes them) and never answers a command."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()


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
