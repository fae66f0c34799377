"""What workers run for notifications."""

from __future__ import annotations

from notifications import sending


def deliver(delivery_id: int) -> str:
    """Send one delivery; a temporary failure is retried by the job runner, with backoff."""
    return sending.send(delivery_id)


def fail_abandoned_deliveries() -> list[int]:
    """Periodic: no delivery stays pending after the job runner gave up on sending it."""
    return sending.fail_abandoned()
