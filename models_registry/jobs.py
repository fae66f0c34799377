"""Background jobs of the model registry (run by django-rq workers through dashboard.jobrunner)."""

from __future__ import annotations

from dashboard.errors import UnavailableError
from integrations.errors import TemporaryError
from models_registry.sync import sync_store


def sync_model_store() -> dict[str, object]:
    try:
        report = sync_store()
    except UnavailableError as exc:
        raise TemporaryError(exc.message, system="model store") from exc
    return report.as_dict()
