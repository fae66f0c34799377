"""Every write to notification channels (each audited) and the fan-out of notices to deliveries.

A channel's URL and secret are recorded in the audit trail only as "set" or "changed". A secret
is revealed once, by the call that set it (the return value), and never read back for people.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from core import audit, jobrunner
from core.audit import Actor
from core.errors import ConflictError, NotFoundError, ServiceError
from notifications import jobs
from notifications.events import Notice, link
from notifications.models import TEST_EVENT, Delivery, NotificationChannel
from notifications.payloads import payload

Kind = NotificationChannel.Kind
GENERATE = object()  # as "secret": make a new random one
MIN_SECRET_LENGTH = 16
SECRETS = NotificationChannel.SECRET_FIELDS


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _choose_secret(kind: str, given: Any, current: str, *, creating: bool) -> str:
    """The channel's secret after this change.

    ``None`` (or absent) keeps it; on a new channel that means none, except that a webhook
    channel always signs and gets one made. ``""`` removes it (a webhook channel gets a new one
    instead); :data:`GENERATE` makes a new one; any other text is the new secret.
    """
    if given is GENERATE:
        return new_secret()
    if given is None and not creating:
        return current or (new_secret() if kind == Kind.WEBHOOK else "")
    if not given:
        return new_secret() if kind == Kind.WEBHOOK else ""
    if len(given) < MIN_SECRET_LENGTH:
        raise ServiceError(f"A secret needs at least {MIN_SECRET_LENGTH} characters.", field="secret")
    return str(given)


def _apply(channel: NotificationChannel, fields: dict[str, Any], *, creating: bool) -> str | None:
    """Set ``fields`` on ``channel`` and check it; the secret to reveal when it was set now."""
    before = channel.secret
    for name, value in fields.items():
        if name in NotificationChannel.EDITABLE_FIELDS and name != "secret":
            setattr(channel, name, value)
    channel.secret = _choose_secret(channel.kind, fields.get("secret"), before, creating=creating)
    if channel.environment is not None and not channel.application_id:
        channel.application_id = channel.environment.application_id  # the filter says it anyway
    try:
        channel.full_clean(validate_unique=False)  # a duplicate name is a 409, below
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ServiceError(" ".join(messages), field=None if field == NON_FIELD_ERRORS else field) from None
    return channel.secret if channel.secret and channel.secret != before else None


def create_channel(fields: dict[str, Any], *, actor: Actor) -> tuple[NotificationChannel, str | None]:
    """A new channel, and its secret to show once (None when it has none)."""
    channel = NotificationChannel(created_by=audit.user_of(actor))
    try:
        with transaction.atomic():
            revealed = _apply(channel, fields, creating=True)
            channel.save()
            after = audit.without_secrets(channel.audit_state(), SECRETS)
            audit.record("notification_channel.create", channel, actor=actor, after=after)
    except IntegrityError:
        raise ConflictError(f"A channel named {fields.get('name')!r} already exists.", field="name") from None
    return channel, revealed


def update_channel(
    channel: NotificationChannel, fields: dict[str, Any], *, actor: Actor
) -> tuple[NotificationChannel, str | None]:
    """Change a channel; returns it and its new secret when this change set one (to show once)."""
    try:
        with transaction.atomic():
            channel = NotificationChannel.objects.select_for_update().get(pk=channel.pk)
            before = channel.audit_state()
            revealed = _apply(channel, fields, creating=False)
            channel.save()
            audit.record_update(
                "notification_channel.update",
                channel,
                actor=actor,
                before=before,
                after=channel.audit_state(),
                secrets=SECRETS,
            )
    except IntegrityError:
        raise ConflictError(f"A channel named {fields.get('name')!r} already exists.", field="name") from None
    return channel, revealed


def delete_channel(channel: NotificationChannel, *, actor: Actor) -> None:
    """Remove a channel and its delivery log (the audit trail keeps that it existed)."""
    with transaction.atomic():
        channel = NotificationChannel.objects.select_for_update().get(pk=channel.pk)
        before = audit.without_secrets(channel.audit_state(), SECRETS)
        audit.record("notification_channel.delete", channel, actor=actor, before=before)
        channel.delete()


def get_channel(pk: int) -> NotificationChannel:
    channel = NotificationChannel.objects.select_related("application", "environment__application").filter(
        pk=pk
    )
    found = channel.first()
    if found is None:
        raise NotFoundError(f"No notification channel #{pk}.")
    return found


def send_test(channel: NotificationChannel, *, actor: Actor) -> Delivery:
    """Queue a test message to the channel, whatever its events and filters (even when disabled)."""
    notice = Notice(
        event=TEST_EVENT,
        title="Test notification",
        summary=f"A test of channel {channel.name}, sent by {audit.actor_fields(actor)['actor_name']}.",
        url=link(channel.get_absolute_url()),
    )
    with transaction.atomic():
        delivery = _queue(channel, notice)
        audit.record("notification_channel.test", channel, actor=actor, after={"delivery": delivery.pk})
    return delivery


def fan_out(event: str, describe: Any) -> list[Delivery]:
    """Queue a delivery of ``event`` to every enabled channel whose events and filters take it.

    ``describe()`` makes the notice, only when some channel listens to ``event`` at all.
    """
    listening = [
        channel
        for channel in NotificationChannel.objects.filter(enabled=True).select_related("application")
        if event in channel.events
    ]
    if not listening:
        return []
    notice: Notice | None = describe()
    if notice is None:
        return []
    targets = [
        channel
        for channel in listening
        if channel.wants(event, applications=notice.applications, environment_id=notice.environment_id)
    ]
    with transaction.atomic():
        return [_queue(channel, notice) for channel in targets]


def _queue(channel: NotificationChannel, notice: Notice) -> Delivery:
    delivery = Delivery.objects.create(
        channel=channel, event=notice.event, payload=payload(channel.kind, notice)
    )
    jobrunner.enqueue(jobs.deliver, delivery.pk, queue="default", related=delivery)
    return delivery
