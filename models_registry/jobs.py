"""Background jobs of the model registry (run by django-rq workers through core.jobrunner)."""

from __future__ import annotations

from models_registry import content
from models_registry.sync import sync_store


def sync_model_store() -> dict[str, object]:
    """List the store, queue new and changed objects as pending versions, mark missing ones.

    Store errors propagate: a temporary one is retried by the job runner, any other (an
    authentication failure above all) fails the run with the reason.
    """
    return sync_store().as_dict()


def pin_version(version_id: int) -> str:
    return content.pin_version(version_id)
