"""Freeze windows of an environment, evaluated with the time logic in releases.scheduling."""

from __future__ import annotations

from datetime import datetime, timedelta

from releases import scheduling
from releases.models import Environment, FreezeWindow


def as_window(window: FreezeWindow) -> scheduling.FreezeWindow:
    duration = timedelta(minutes=window.duration_minutes) if window.duration_minutes else None
    return scheduling.FreezeWindow(
        start=window.start,
        end=window.end,
        cron=window.cron,
        duration=duration,
        tz=window.timezone,
        reason=window.reason,
    )


def active(environment: Environment, when: datetime) -> FreezeWindow | None:
    """The freeze window in force at ``when``, if any."""
    for window in environment.freeze_windows.all():
        if as_window(window).active_at(when):
            return window
    return None
