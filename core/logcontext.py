"""What every log line says about where it comes from: the request, or the job run and its object.

The web side has the request id in :data:`core.middleware.current_request_id`. A worker binds
the job run's fields (:func:`bind`, done by :func:`core.jobrunner.execute`), among them the id
of the request that enqueued the run, so one release can be followed in the logs from the
click to the rollout. :class:`ContextFilter` copies both onto each record; with
``LOG_FORMAT=json`` :class:`JsonFormatter` writes them as fields of one JSON object per line.

Imported by the logging configuration, before the apps are ready: no models here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from core.middleware import current_request_id

_bound: ContextVar[dict[str, Any]] = ContextVar("log_context", default={})  # noqa: B039  # never mutated


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every line logged in this context (a thread or a job run)."""
    token = _bound.set({**_bound.get(), **fields})
    try:
        yield
    finally:
        _bound.reset(token)


def bound() -> dict[str, Any]:
    return dict(_bound.get())


def object_fields(object_type: str, object_id: str) -> dict[str, str]:
    """``releases.release`` + ``12`` → ``{"object": "releases.release:12", "release_id": "12"}``."""
    if not object_type:
        return {}
    return {"object": f"{object_type}:{object_id}", f"{object_type.rsplit('.', 1)[-1]}_id": object_id}


class ContextFilter(logging.Filter):
    """Puts the request id and the bound fields on each record (set on the handler, so every
    logger's lines get them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _bound.get()
        for name, value in fields.items():
            setattr(record, name, value)
        # django.request logs a 4xx/5xx after the request id's context has ended: the request has it.
        late = getattr(getattr(record, "request", None), "request_id", "")
        record.request_id = current_request_id.get() or fields.get("request_id", "") or late
        return True


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line: timestamp (UTC, ISO 8601), level, logger, message and the context."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", True)
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)
