"""The single sign-on settings are checked at start-up, each error naming its variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import parse_role_map
from core.rolenames import ROLE_GROUPS


def test_the_role_map_reads_groups_and_roles() -> None:
    raw = " 0b5c-11=release-manager , grp=on-call,grp=data-scientist,"
    assert parse_role_map(raw, ROLE_GROUPS) == (
        ("0b5c-11", "release-manager"),
        ("grp", "on-call"),
        ("grp", "data-scientist"),
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("just-a-group", "'just-a-group' is not <group>=<role>"),
        ("grp=", "is not <group>=<role>"),
        ("grp=boss", "'boss' is not a role; use one of: data-scientist, release-manager, on-call"),
        ("grp=admin", "admins stay a local decision"),
    ],
)
def test_a_bad_role_map_is_a_clear_error(raw: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        parse_role_map(raw, ROLE_GROUPS)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOCAL_LOGIN": "false"}, "LOCAL_LOGIN=false needs OIDC_ISSUER"),
        (
            {"OIDC_ISSUER": "https://idp.example.test", "OIDC_CLIENT_ID": "x"},
            "OIDC_ISSUER needs OIDC_CLIENT_ID",
        ),
        ({"OIDC_ROLE_MAP": "g=root"}, "OIDC_ROLE_MAP: 'root' is not a role"),
    ],
)
def test_the_settings_refuse_an_incomplete_configuration(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OIDC_", "LOCAL_LOGIN"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={**environ, "VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and message in result.stderr


def test_the_client_secret_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path),
        "OIDC_ISSUER": "https://idp.example.test",
        "OIDC_CLIENT_ID": "dashboard",
        "OIDC_CLIENT_SECRET_FILE": str(secret),
        "LOCAL_LOGIN": "false",
    }
    code = "from django.conf import settings; print(settings.OIDC_RP_CLIENT_SECRET, settings.AUTHENTICATION_BACKENDS)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip().splitlines()[-1]
        == "s3cret ['axes.backends.AxesStandaloneBackend', 'core.sso.OIDCBackend']"
    )
