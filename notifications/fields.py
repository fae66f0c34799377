"""A text field stored encrypted (Fernet, keyed from ``SECRET_KEY``): channel URLs and secrets.

Webhook URLs of Slack and Teams carry their own credential, and signing secrets must be read
back to sign, so both are kept encrypted at rest rather than hashed. The key is derived from
``SECRET_KEY``, which every web and worker process shares; values written under a key in
``SECRET_KEY_FALLBACKS`` still read, so the key can be rotated.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PURPOSE = b"notifications.EncryptedTextField"


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(PURPOSE + b":" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _keys() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(key) for key in keys])


def encrypt(value: str) -> str:
    return _keys().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _keys().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "a notification channel's URL or secret cannot be decrypted: SECRET_KEY changed "
            "(put the old one in SECRET_KEY_FALLBACKS)"
        ) from None


class EncryptedTextField(models.TextField):
    """Plain text in Python, a Fernet token in the database; "" stays "" (so ``blank`` works)."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return None if value is None else decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)
