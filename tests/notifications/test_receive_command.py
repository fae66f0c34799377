"""``manage.py receive_notifications``: the local receiver a newcomer points a channel at."""

from __future__ import annotations

import http.client
import os
import queue
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import CommandError, call_command

from integrations.notify import signature, signature_problem
from notifications import services

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
SECRET = "the-channel-secret-of-this-test"


class Running:
    """The command's output, read by a thread of its own: a receiver that prints nothing fails
    the test after ``WAIT`` seconds instead of blocking it for good."""

    WAIT = 30

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.output: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        (first,) = self.lines(1)
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", first)
        assert found, f"the receiver did not say where it listens: {first!r}"
        self.url = found.group(0)

    def _read(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            self.output.put(line.rstrip("\n"))

    def lines(self, count: int) -> list[str]:
        try:
            return [self.output.get(timeout=self.WAIT) for _ in range(count)]
        except queue.Empty:
            raise AssertionError(f"the receiver printed nothing within {self.WAIT} s") from None


@contextmanager
def receive_notifications(*options: str) -> Iterator[Running]:
    command = [sys.executable, "manage.py", "receive_notifications", "--port", "0", *options]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        yield Running(process)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def running() -> Iterator[Running]:
    with receive_notifications("--secret", SECRET) as running:
        yield running


@pytest.fixture
def send(manager, django_capture_on_commit_callbacks, settings):
    settings.DASHBOARD_URL = "http://127.0.0.1:8000"

    def send(url: str, secret: str):
        channel, _ = services.create_channel(
            {"name": f"local {secret[:8]}", "kind": "webhook", "url": url, "events": [], "secret": secret},
            actor=manager,
        )
        with django_capture_on_commit_callbacks(execute=True):
            delivery = services.send_test(channel, actor=manager)
        delivery.refresh_from_db()
        return channel, delivery

    return send


def test_a_test_message_arrives_signed_and_the_receiver_says_so(running, send):
    channel, delivery = send(running.url, SECRET)

    assert (delivery.state, delivery.response_code) == ("succeeded", 204)
    head, text = running.lines(2)
    assert re.fullmatch(rf"\d\d:\d\d:\d\d  test  delivery {delivery.pk}  signature verified", head)
    assert f"http://127.0.0.1:8000/notifications/{channel.pk}/" in text and "local the-chan" in text


def test_a_message_signed_with_another_secret_is_refused_and_the_delivery_log_shows_why(running, send):
    _, delivery = send(running.url, "a-different-secret-entirely")

    assert (delivery.state, delivery.response_code, delivery.attempts) == ("failed", 401, 1)  # not retried
    assert "its signature does not match the secret" in delivery.last_error
    assert running.lines(1)[0].endswith(f"delivery {delivery.pk}  its signature does not match the secret")


def test_a_signature_holds_only_for_its_secret_body_and_a_fresh_timestamp():
    now = 1_767_225_600
    body = b'{"event": "test"}'
    given = signature(SECRET, now, body)
    assert signature_problem(SECRET, str(now), given, body, now=now + 299) is None
    assert (
        signature_problem(SECRET, str(now), given, body + b" ", now=now)
        == "its signature does not match the secret"
    )
    assert (
        signature_problem("another", str(now), given, body, now=now)
        == "its signature does not match the secret"
    )
    assert signature_problem(SECRET, str(now), given, body, now=now + 301) == (
        "its timestamp is 301 s old (at most 300 s allowed)"
    )
    assert signature_problem(SECRET, str(now), given, body, now=now - 400) == (
        "its timestamp is 400 s ahead (at most 300 s allowed)"
    )
    assert signature_problem(SECRET, "", given, body, now=now) == "its timestamp is missing or not a number"
    assert (
        signature_problem(SECRET, "\uff11\uff12", given, body, now=now)
        == "its timestamp is missing or not a number"
    )
    assert signature_problem(SECRET, str(now), "", body, now=now) == "it is not signed"


def test_a_port_in_use_or_out_of_range_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(CommandError, match=r"cannot listen on 127\.0\.0\.1:\d+"):
            call_command("receive_notifications", port=taken.getsockname()[1])
    with pytest.raises(CommandError, match="--port must be 0-65535"):
        call_command("receive_notifications", port=70000)


def test_without_a_secret_it_takes_anything_and_says_it_did_not_check(send):
    with receive_notifications() as receiver:
        _, delivery = send(receiver.url, "any-secret-of-enough-length")
        assert (delivery.state, delivery.response_code) == ("succeeded", 204)
        assert receiver.lines(1)[0].endswith("not checked (no secret given)")


def post_raw(url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, str]:
    """A POST as given: no Content-Length unless ``headers`` has one, and ``body`` may be shorter."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.putrequest("POST", "/")
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def test_a_post_without_its_length_or_too_large_or_unsigned_is_refused_with_the_reason(running):
    assert post_raw(running.url, None, {})[0] == 411
    assert post_raw(running.url, None, {"Content-Length": str(2 * 1024 * 1024)})[0] == 413

    status, text = post_raw(running.url, b"hello", {"Content-Length": "5", "X-Dashboard-Event": "test"})
    assert (status, text) == (401, "refused: it is not signed")
    head, body = running.lines(2)
    assert head.endswith("test  delivery ?  it is not signed") and body.strip() == "not JSON (5 bytes)"
