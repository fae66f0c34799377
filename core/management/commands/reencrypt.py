"""Encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEY (after a key rotation)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from core import audit, crypto

ACTOR = "command:reencrypt"


class Command(BaseCommand):
    help = (
        "Re-encrypt every secret stored in the database with the first FIELD_ENCRYPTION_KEY, so "
        "older keys can be dropped. Safe to run again; each re-encrypted row is audited."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        for model, name in crypto.encrypted_fields():
            quote = connection.ops.quote_name
            field, pk_field = model._meta.get_field(name), model._meta.pk
            assert isinstance(field, crypto.EncryptedTextField) and pk_field is not None
            table, pk, column = quote(model._meta.db_table), quote(pk_field.attname), quote(field.attname)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {pk}, {column} FROM {table} ORDER BY {pk}")  # progress in pk order
                stale = [
                    key for key, value in cursor.fetchall() if value and crypto.needs_reencryption(value)
                ]
            for key in stale:
                try:
                    with transaction.atomic():
                        obj = model._default_manager.select_for_update().get(pk=key)
                        model._default_manager.filter(pk=key).update(**{name: getattr(obj, name)})
                        audit.record(
                            f"{model._meta.model_name}.reencrypted",
                            obj,
                            actor=ACTOR,
                            before={name: audit.SECRET_CHANGED},
                            after={name: audit.SECRET_CHANGED},
                        )
                except ImproperlyConfigured as exc:
                    raise CommandError(str(exc)) from None
            total += len(stale)
            self.stdout.write(f"{model._meta.label}.{name}: {len(stale)} re-encrypted")
        self.stdout.write(
            f"Done: {total} value{'s' * (total != 1)} re-encrypted with key {crypto.key_id_of_first()}."
        )
