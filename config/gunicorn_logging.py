"""gunicorn's own lines (start-up, workers, the access log) as JSON when ``LOG_FORMAT=json``.

The same fields as the app's lines (``core/logcontext.py``): timestamp, level, logger, message;
an access line adds the method, path, status, bytes, duration and the request id the app gave
the answer (its ``X-Request-ID``), so it joins the app's lines for that request. Imported by
gunicorn's master before the app: no Django here.
"""

from __future__ import annotations

import logging
from typing import Any

from pythonjsonlogger.json import JsonFormatter


class GunicornJsonFormatter(JsonFormatter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", True)
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)

    def add_fields(
        self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_record, record, message_dict)
        atoms = record.args
        if record.name == "gunicorn.access" and isinstance(atoms, dict):
            log_record.update(
                method=atoms.get("m"),
                path=atoms.get("U"),
                query=atoms.get("q") or "",
                status=_number(atoms.get("s")),
                bytes=_number(atoms.get("B")),
                duration_ms=_number(atoms.get("M")),
                remote=atoms.get("h"),
                request_id=_header(atoms.get("{x-request-id}o")),
            )


def _number(value: Any) -> int | None:
    text = str(value)
    return int(text) if text.isascii() and text.isdecimal() else None


def _header(value: Any) -> str:
    return "" if value in (None, "-") else str(value)


def logconfig_dict(log_format: str, level: str) -> dict[str, Any] | None:
    """gunicorn's ``logconfig_dict`` for ``LOG_FORMAT`` (None: gunicorn's own plain lines)."""
    if log_format.strip().lower() != "json":
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": GunicornJsonFormatter}},
        "handlers": {"console": handler},
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {
            name: {"level": level, "handlers": ["console"], "propagate": False}
            for name in ("gunicorn.error", "gunicorn.access")
        },
    }
