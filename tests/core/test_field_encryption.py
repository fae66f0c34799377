"""Secrets in the database are encrypted with FIELD_ENCRYPTION_KEY, can be rotated, and a missing
or wrong key is a message naming what is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection

from builds.models import Application
from core import crypto
from core.models import AuditEvent

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec-do-not-store-plain"


def raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def keys(*values: str) -> list[crypto.Key]:
    return crypto.parse_keys(",".join(values), "FIELD_ENCRYPTION_KEY")


def test_the_raw_column_holds_no_secret(application):
    Application.objects.filter(pk=application.pk).update(webhook_secret=SECRET)
    stored = raw("builds_application", "webhook_secret", application.pk)
    assert SECRET not in stored and stored.startswith("fernet:")
    assert Application.objects.get(pk=application.pk).webhook_secret == SECRET


def test_rotation_with_reencrypt(application, settings):
    old, new = crypto.new_key(), crypto.new_key()
    settings.FIELD_ENCRYPTION_KEYS = keys(old)
    Application.objects.filter(pk=application.pk).update(webhook_secret=SECRET)
    assert raw("builds_application", "webhook_secret", application.pk).startswith(
        f"fernet:{crypto.key_id(old)}:"
    )

    settings.FIELD_ENCRYPTION_KEYS = keys(new, old)  # the new key first: it encrypts, both decrypt
    assert Application.objects.get(pk=application.pk).webhook_secret == SECRET
    call_command("reencrypt", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert raw("builds_application", "webhook_secret", application.pk).startswith(
        f"fernet:{crypto.key_id(new)}:"
    )
    event = AuditEvent.objects.get(action="application.reencrypted")
    assert event.after == {"webhook_secret": "changed"} and event.actor_name == "command:reencrypt"

    settings.FIELD_ENCRYPTION_KEYS = keys(new)  # the old key dropped
    assert Application.objects.get(pk=application.pk).webhook_secret == SECRET


def test_reencrypt_stopped_half_way_finishes_when_run_again(application, settings):
    """A row it cannot read stops it after the rows before were done; run again, it does the rest only."""
    old, retired, new = crypto.new_key(), crypto.new_key(), crypto.new_key()
    second = Application.objects.get(pk=application.pk)
    second.pk, second.name, second.image_repository = None, "second-app", "second-app"
    second.save()
    settings.FIELD_ENCRYPTION_KEYS = keys(old)
    Application.objects.filter(pk=application.pk).update(webhook_secret=SECRET)
    settings.FIELD_ENCRYPTION_KEYS = keys(retired)
    Application.objects.filter(pk=second.pk).update(webhook_secret=SECRET + "-2")

    settings.FIELD_ENCRYPTION_KEYS = keys(new, old)  # the retired key forgotten: the second row fails
    with pytest.raises(CommandError, match=f"key id {crypto.key_id(retired)}"):
        call_command("reencrypt", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert raw("builds_application", "webhook_secret", application.pk).startswith(
        f"fernet:{crypto.key_id(new)}:"
    )
    assert raw("builds_application", "webhook_secret", second.pk).startswith(
        f"fernet:{crypto.key_id(retired)}:"
    )

    settings.FIELD_ENCRYPTION_KEYS = keys(new, old, retired)
    call_command("reencrypt", stdout=open(os.devnull, "w"))  # noqa: SIM115
    settings.FIELD_ENCRYPTION_KEYS = keys(new)
    assert Application.objects.get(pk=application.pk).webhook_secret == SECRET
    assert Application.objects.get(pk=second.pk).webhook_secret == SECRET + "-2"
    audited = AuditEvent.objects.filter(action="application.reencrypted")
    assert sorted(audited.values_list("object_id", flat=True)) == sorted(
        [str(application.pk), str(second.pk)]
    )


def test_a_value_of_a_retired_key_names_the_key(application, settings):
    retired = crypto.new_key()
    settings.FIELD_ENCRYPTION_KEYS = keys(retired)
    Application.objects.filter(pk=application.pk).update(webhook_secret=SECRET)
    settings.FIELD_ENCRYPTION_KEYS = keys(crypto.new_key())
    with pytest.raises(crypto.UnknownKeyError, match=f"key id {crypto.key_id(retired)}"):
        Application.objects.get(pk=application.pk)


@pytest.mark.parametrize("value", ["not-a-key", "c2hvcnQ=", ","])
def test_bad_keys_are_refused_naming_the_variable(value):
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEY"):
        crypto.parse_keys(value, "FIELD_ENCRYPTION_KEY")


def test_a_wrong_key_at_start_up_is_one_line_not_a_traceback(tmp_path):
    env = {**os.environ, "FIELD_ENCRYPTION_KEY": "garbage", "VAR_DIR": str(tmp_path)}
    for command in (
        [sys.executable, "manage.py", "check"],
        [sys.executable, "-c", "import config.wsgi"],
    ):
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode != 0
        assert "Configuration error: FIELD_ENCRYPTION_KEY: key 1 is not a Fernet key" in done.stderr
        assert "Traceback" not in done.stderr


def test_the_embedded_default_generates_a_key_once(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "FIELD_ENCRYPTION_KEY"} | {"VAR_DIR": str(tmp_path)}
    script = "from django.conf import settings; print(settings.FIELD_ENCRYPTION_KEYS[0].id)"
    runs = [
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-v0", "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and len(runs[0]) == 8
    assert (tmp_path / "field_encryption_key").stat().st_mode & 0o077 == 0
