"""Sending a delivery (in a worker): one attempt, recorded on the delivery whatever happens.

A temporary failure (no answer in ``NOTIFY_TIMEOUT`` seconds, no connection, 5xx, 429) is
raised again for the job runner to retry with backoff (honouring ``Retry-After``); the delivery
stays pending with the error, and fails on the last attempt. Any other answer of 3xx/4xx fails
it at once. The same delivery may be sent twice (a worker lost after sending): receivers
de-duplicate on ``X-Dashboard-Delivery``.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from core import jobrunner
from integrations import notify
from integrations.errors import IntegrationError, TemporaryError
from notifications.models import Delivery


def send(delivery_id: int) -> str:
    delivery = _start_attempt(delivery_id)
    if delivery is None:
        return f"delivery #{delivery_id}: nothing to send (sent, failed or deleted already)"
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = {"X-Dashboard-Delivery": str(delivery.pk), "X-Dashboard-Event": delivery.event}
    try:
        channel = delivery.channel  # loaded here: a URL no configured key decrypts raises
        sent = notify.post(
            channel.url, body, secret=channel.secret, timeout=settings.NOTIFY_TIMEOUT, headers=headers
        )
    except IntegrationError as exc:
        final = not isinstance(exc, TemporaryError) or jobrunner.is_last_attempt()
        _record(delivery, Delivery.State.FAILED if final else Delivery.State.PENDING, exc=exc)
        raise
    except Exception as exc:  # the job runner will not retry it: the delivery must not stay pending
        _record(delivery, Delivery.State.FAILED, exc=exc)
        raise
    _record(delivery, Delivery.State.SUCCEEDED, code=sent.status_code)
    return f"delivery #{delivery.pk}: HTTP {sent.status_code} from {channel.endpoint}"


def _start_attempt(delivery_id: int) -> Delivery | None:
    """Count the attempt, only while the delivery is still pending."""
    now = timezone.now()
    pending = Delivery.objects.filter(pk=delivery_id, state=Delivery.State.PENDING)
    if not pending.update(attempts=F("attempts") + 1, last_attempt_at=now):
        return None
    return Delivery.objects.get(pk=delivery_id)


def _record(delivery: Delivery, state: str, *, code: int | None = None, exc: Exception | None = None) -> None:
    fields = {
        "state": state,
        "response_code": getattr(exc, "status_code", None) if exc is not None else code,
        "last_error": f"attempt {delivery.attempts}: {exc}"[:2000] if exc is not None else "",
    }
    if state != Delivery.State.PENDING:
        fields["finished_at"] = timezone.now()
    Delivery.objects.filter(pk=delivery.pk, attempts=delivery.attempts).update(**fields)


def fail_abandoned() -> list[int]:
    """Fail, with the job runner's reason, pending deliveries whose job run it gave up on without
    the delivery hearing of it (the worker of the last attempt was lost). Idempotent."""
    pending = Delivery.objects.filter(state=Delivery.State.PENDING)
    failed = []
    for delivery, error in jobrunner.given_up_on("notifications.jobs.deliver", pending):
        why = f"the job runner gave up: {error}"[:2000]
        if pending.filter(pk=delivery.pk).update(
            state=Delivery.State.FAILED, last_error=why, finished_at=timezone.now()
        ):
            failed.append(delivery.pk)
    return failed
