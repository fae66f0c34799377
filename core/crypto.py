"""Secrets kept in the database, encrypted with keys from ``FIELD_ENCRYPTION_KEY``.

The setting holds one or more Fernet keys, comma-separated: the first encrypts, every one
decrypts, so a key is rotated by putting a new one first, running ``manage.py reencrypt``, then
dropping the old one. A stored value reads ``fernet:<key id>:<token>``: the key id (the first
8 hex digits of the key's sha256) says which key a value needs, so a value written with a key
that was dropped fails with a message naming that key, not with a bare "invalid token".
"""

from __future__ import annotations

import binascii
import hashlib
from base64 import urlsafe_b64decode
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet"


@dataclass(frozen=True)
class Key:
    id: str
    fernet: Fernet
    text: str = field(repr=False)  # the key as configured, to hand to processes started from here


class UnknownKeyError(ImproperlyConfigured):
    """A stored value needs a key that is no longer in FIELD_ENCRYPTION_KEY."""


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def new_key() -> str:
    return Fernet.generate_key().decode()


def parse_keys(value: str, name: str) -> list[Key]:
    """The keys of setting ``name`` (comma-separated Fernet keys), or a message naming it."""
    keys = []
    for number, text in enumerate((part.strip() for part in value.split(",") if part.strip()), start=1):
        try:
            if len(urlsafe_b64decode(text.encode())) != 32:
                raise ValueError
            fernet = Fernet(text.encode())
        except (ValueError, binascii.Error):
            raise ImproperlyConfigured(
                f"{name}: key {number} is not a Fernet key (32 bytes, url-safe base64; make one with "
                'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())")'
            ) from None
        keys.append(Key(key_id(text), fernet, text))
    if not keys:
        raise ImproperlyConfigured(f"{name} is empty: it needs at least one key.")
    return keys


def _keys() -> list[Key]:
    return list(settings.FIELD_ENCRYPTION_KEYS)


def encrypt(plain: str) -> str:
    key = _keys()[0]
    return f"{PREFIX}:{key.id}:{key.fernet.encrypt(plain.encode()).decode()}"


def decrypt(stored: str, *, what: str = "a stored secret") -> str:
    try:
        prefix, kid, token = stored.split(":", 2)
    except ValueError:
        prefix, kid, token = "", "", ""
    if prefix != PREFIX:
        raise ImproperlyConfigured(f"{what} is not an encrypted value; run manage.py reencrypt.")
    key = next((k for k in _keys() if k.id == kid), None)
    if key is None:
        raise UnknownKeyError(
            f"{what} was encrypted with key id {kid}, which FIELD_ENCRYPTION_KEY no longer holds: "
            "add that key back (after the current one), then run manage.py reencrypt."
        )
    try:
        return key.fernet.decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            f"{what} does not decrypt with key id {kid}: the value is damaged."
        ) from None


def needs_reencryption(stored: str) -> bool:
    return bool(stored) and not stored.startswith(f"{PREFIX}:{_keys()[0].id}:")


class EncryptedTextField(models.TextField):
    """Plain text in Python, encrypted in the database; "" stays "" (so ``blank`` works)."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if not value:
            return value
        return decrypt(value, what=f"{self.model._meta.label}.{self.name}")

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return encrypt(value) if value else value


def configured_keys() -> str:
    """FIELD_ENCRYPTION_KEY as this process uses it (for processes it starts, which must share it)."""
    return ",".join(key.text for key in _keys())


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) stored encrypted, found through the app registry."""
    from django.apps import apps

    return [
        (model, candidate.name)
        for model in apps.get_models()
        for candidate in model._meta.get_fields()
        if isinstance(candidate, EncryptedTextField)
    ]


def key_id_of_first() -> str:
    return _keys()[0].id
