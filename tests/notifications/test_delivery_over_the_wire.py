"""A delivery goes over HTTP to a real receiver: signed, retried when the receiver is down or slow,
given up on at once when it refuses, and every attempt is on the delivery."""

from __future__ import annotations

import time

import pytest

from core import crypto
from core.models import JobRun
from notifications import services
from notifications.models import Delivery
from tests.releases.conftest import run_jobs

pytestmark = pytest.mark.django_db


@pytest.fixture
def send(manager, django_capture_on_commit_callbacks):
    def send(channel):
        with django_capture_on_commit_callbacks(execute=True):
            delivery = services.send_test(channel, actor=manager)
        delivery.refresh_from_db()
        return delivery

    return send


def test_the_body_is_signed_with_the_channel_secret_and_a_fresh_timestamp(make_channel, receiver, send):
    channel = make_channel(secret="a-shared-secret-of-some-length")

    delivery = send(channel)

    assert (delivery.state, delivery.attempts, delivery.response_code) == ("succeeded", 1, 200)
    (request,) = receiver.received
    assert request.path == "/hooks/dashboard/t0ken"
    assert request.headers["Content-Type"] == "application/json"
    assert abs(int(request.headers["X-Dashboard-Timestamp"]) - time.time()) < 60
    assert request.headers["X-Dashboard-Signature"].startswith("sha256=")
    assert request.signature_verifies("a-shared-secret-of-some-length")
    assert not request.signature_verifies("another-secret-entirely")
    assert request.headers["X-Dashboard-Delivery"] == str(delivery.pk)
    body = request.json
    assert body["event"] == "test"
    assert body["url"] == f"https://releases.example.com/notifications/{channel.pk}/"
    assert "ops" in body["summary"]


def test_a_new_webhook_channel_gets_a_secret_made_and_signs_with_it(manager, receiver, send):
    channel, secret = services.create_channel(
        {"name": "made", "kind": "webhook", "url": receiver.url, "events": []}, actor=manager
    )
    assert secret and len(secret) >= 32

    send(channel)

    assert receiver.received[0].signature_verifies(secret)


def test_a_slack_channel_without_a_secret_sends_slack_blocks_unsigned(make_channel, receiver, send):
    channel = make_channel(kind="slack")
    assert not channel.secret

    send(channel)

    (request,) = receiver.received
    assert "X-Dashboard-Signature" not in request.headers
    body = request.json
    assert body["text"].startswith("Test notification: ")
    assert body["blocks"][0]["type"] == "section"
    assert "<https://releases.example.com/notifications/" in body["blocks"][0]["text"]["text"]


def test_a_teams_channel_sends_an_adaptive_card(make_channel, receiver, send):
    send(make_channel(kind="teams"))

    body = receiver.received[0].json
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["type"] == "AdaptiveCard"
    assert attachment["content"]["actions"][0]["url"].startswith("https://releases.example.com/")


def test_a_server_error_is_retried_and_then_delivered(make_channel, receiver, send):
    receiver.answers = [500, 503]
    channel = make_channel()

    delivery = send(channel)
    assert (delivery.state, delivery.attempts, delivery.response_code) == ("pending", 1, 500)
    assert "HTTP 500" in delivery.last_error
    run = JobRun.objects.get(name="notifications.jobs.deliver")
    assert run.status == "retrying" and run.run_after is not None

    run_jobs("notifications.jobs.deliver")

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.response_code, delivery.last_error) == (
        "succeeded",
        3,
        200,
        "",
    )
    assert len(receiver.received) == 3
    assert len({r.headers["X-Dashboard-Delivery"] for r in receiver.received}) == 1
    run.refresh_from_db()
    assert run.status == "succeeded"


def test_a_receiver_that_hangs_times_out_and_is_retried(make_channel, receiver, send):
    receiver.answers = ["hang"]

    delivery = send(make_channel())
    assert (delivery.state, delivery.attempts, delivery.response_code) == ("pending", 1, None)
    assert "did not answer within 0.5 s" in delivery.last_error

    run_jobs("notifications.jobs.deliver")

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.response_code) == ("succeeded", 2, 200)


def test_too_many_requests_waits_as_long_as_retry_after_says(make_channel, receiver, send):
    receiver.answers = [(429, {"Retry-After": "120"})]

    delivery = send(make_channel())

    assert (delivery.state, delivery.response_code) == ("pending", 429)
    run = JobRun.objects.get(name="notifications.jobs.deliver")
    wait = (run.run_after - run.started_at).total_seconds()
    assert 110 < wait < 130


@pytest.mark.parametrize("code", [401, 403, 404, 409])
def test_a_refusal_is_recorded_failed_and_not_retried(make_channel, receiver, send, code):
    receiver.answers = [code]

    delivery = send(make_channel())

    assert (delivery.state, delivery.attempts, delivery.response_code) == ("failed", 1, code)
    assert f"HTTP {code}" in delivery.last_error and delivery.finished_at is not None
    run = JobRun.objects.get(name="notifications.jobs.deliver")
    assert run.status == "failed" and f"HTTP {code}" in run.error
    run_jobs()
    assert len(receiver.received) == 1


def test_after_the_last_attempt_the_delivery_fails_with_the_reason(make_channel, receiver, send, settings):
    settings.JOB_MAX_RETRIES = 1
    receiver.answers = [502, 502]

    delivery = send(make_channel())
    run_jobs("notifications.jobs.deliver")

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.response_code) == ("failed", 2, 502)
    assert delivery.last_error.startswith("attempt 2: ")
    assert JobRun.objects.get(name="notifications.jobs.deliver").status == "failed"


def test_a_receiver_that_is_not_there_is_retried(make_channel, receiver, send, manager):
    channel = make_channel()
    services.update_channel(channel, {"url": "http://127.0.0.1:9/nobody-listens"}, actor=manager)

    delivery = send(channel)

    assert delivery.state == "pending"
    assert delivery.last_error == "attempt 1: notification receiver: cannot connect to 127.0.0.1:9"


def test_a_channel_no_configured_key_decrypts_fails_the_delivery_instead_of_leaving_it_pending(
    make_channel, receiver, send, settings
):
    channel = make_channel()
    settings.FIELD_ENCRYPTION_KEYS = crypto.parse_keys(crypto.new_key(), "FIELD_ENCRYPTION_KEY")

    delivery = send(channel)

    assert (delivery.state, delivery.attempts) == ("failed", 1)
    assert "FIELD_ENCRYPTION_KEY no longer holds" in delivery.last_error
    assert delivery.finished_at is not None
    assert JobRun.objects.get(name="notifications.jobs.deliver").status == "failed"
    assert receiver.received == []


def test_a_delivery_sent_already_is_not_sent_again(make_channel, receiver, send):
    delivery = send(make_channel())
    from notifications import jobs

    assert "nothing to send" in jobs.deliver(delivery.pk)
    assert len(receiver.received) == 1
    assert Delivery.objects.get(pk=delivery.pk).attempts == 1


def test_the_delivery_log_in_the_api_shows_attempts_code_and_error(make_channel, receiver, send, api, oncall):
    receiver.answers = [500]
    channel = make_channel()
    send(channel)
    api.force_login(oncall)

    body = api.get(f"/api/v1/notification-channels/{channel.pk}/deliveries/").json()

    assert body["count"] == 1
    (row,) = body["results"]
    assert (row["event"], row["state"], row["attempts"], row["response_code"]) == ("test", "pending", 1, 500)
    assert "HTTP 500" in row["last_error"]


def test_a_delivery_whose_last_attempt_was_lost_with_its_worker_fails_with_the_reason(
    make_channel, receiver, manager, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from core import jobrunner
    from notifications import jobs

    delivery = services.send_test(make_channel(), actor=manager)  # queued, never picked up here
    run = JobRun.objects.get(name="notifications.jobs.deliver")
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_LOST_AFTER + 60)
    # The worker of the last attempt claimed the run, then was killed: no heartbeat since.
    JobRun.objects.filter(pk=run.pk).update(
        status="running", attempts=run.max_attempts, heartbeat_at=long_ago, worker="gone:1"
    )
    assert jobrunner.recover_lost_runs() == [run.pk]
    assert JobRun.objects.get(pk=run.pk).status == "failed"

    assert jobs.fail_abandoned_deliveries() == [delivery.pk]

    delivery.refresh_from_db()
    assert delivery.state == "failed" and delivery.finished_at is not None
    assert "the job runner gave up: attempt" in delivery.last_error
    assert "stopped answering" in delivery.last_error
    assert jobs.fail_abandoned_deliveries() == []
