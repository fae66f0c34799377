"""Helpers for server-rendered forms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from core.errors import ServiceError


def add_service_error(form: forms.BaseForm, exc: ServiceError) -> None:
    """Show a service's refusal on the field it names, or above the form."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def add_validation_error(form: forms.BaseForm, exc: ValidationError) -> None:
    """Show a model's own checks (``full_clean`` in a service) on the fields they name; a field
    the form does not have is named in a message above it."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
    for field, texts in errors.items():
        if field in form.fields:
            form.add_error(field, texts)
        else:
            form.add_error(
                None, [text if field == NON_FIELD_ERRORS else f"{field}: {text}" for text in texts]
            )


def describe_errors(errors: Mapping[str, Any]) -> str:
    """Per-field errors (a form's or DRF's) as one sentence: "cron: ...; timezone: ..."."""
    parts = []
    for field, messages in errors.items():
        text = " ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
        parts.append(text if field in ("__all__", "non_field_errors") else f"{field}: {text}")
    return "; ".join(parts) or "Invalid input."
