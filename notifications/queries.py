"""Querysets the pages and the API share."""

from __future__ import annotations

from django.db.models import QuerySet

from notifications.models import Delivery, NotificationChannel


def channels() -> QuerySet[NotificationChannel]:
    return NotificationChannel.objects.select_related("application", "environment__application").order_by(
        "name"
    )


def deliveries(channel: NotificationChannel) -> QuerySet[Delivery]:
    """A channel's delivery log, newest first (rows name nothing else: one query per page)."""
    return Delivery.objects.filter(channel=channel).order_by("-created_at", "-id")
