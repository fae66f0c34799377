"""Helpers for server-rendered forms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms

from core.errors import ServiceError


def add_service_error(form: forms.BaseForm, exc: ServiceError) -> None:
    """Show a service's refusal on the field it names, or above the form."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def describe_errors(errors: Mapping[str, Any]) -> str:
    """Per-field errors (a form's or DRF's) as one sentence: "cron: ...; timezone: ..."."""
    parts = []
    for field, messages in errors.items():
        text = " ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
        parts.append(text if field in ("__all__", "non_field_errors") else f"{field}: {text}")
    return "; ".join(parts) or "Invalid input."
