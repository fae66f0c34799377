from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_int, env_list, env_secret


def test_secrets_can_come_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    monkeypatch.setenv("SOME_SECRET_FILE", str(secret))
    monkeypatch.setenv("SOME_SECRET", "ignored when the file is set")
    assert env_secret("SOME_SECRET") == "s3cr3t"


def test_an_unreadable_secret_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("SOME_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match=r"SOME_SECRET_FILE=.*cannot read"):
        env_secret("SOME_SECRET")


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("yes", True), ("off", False), ("", False)])
def test_booleans(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG") is expected


def test_a_bad_boolean_names_the_variable(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe' is not a boolean"):
        env_bool("DEBUG")


def test_integers_are_checked(monkeypatch):
    monkeypatch.setenv("PORT", "eighty")
    with pytest.raises(ImproperlyConfigured, match="PORT='eighty' is not a whole number"):
        env_int("PORT", 8000)
    monkeypatch.setenv("PORT", "70000")
    with pytest.raises(ImproperlyConfigured, match="out of range"):
        env_int("PORT", 8000, minimum=1, maximum=65535)


def test_choices_and_lists(monkeypatch):
    monkeypatch.setenv("MODEL_STORE", "s3")
    with pytest.raises(ImproperlyConfigured, match="must be one of: filesystem, azure"):
        env_choice("MODEL_STORE", "filesystem", ("filesystem", "azure"))
    monkeypatch.setenv("ALLOWED_HOSTS", "a.example, b.example ,")
    assert env_list("ALLOWED_HOSTS") == ["a.example", "b.example"]


def test_the_settings_refuse_an_azure_store_without_credentials(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "MODEL_STORE": "azure", "VAR_DIR": str(tmp_path)}
    env.pop("AZURE_STORAGE_CONNECTION_STRING", None)
    env.pop("AZURE_STORAGE_ACCOUNT_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "MODEL_STORE=azure needs AZURE_STORAGE_CONNECTION_STRING" in result.stderr


def test_every_variable_the_settings_read_is_in_the_readme_and_env_example():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = "\n".join(p.read_text() for p in (root / "config").glob("*.py"))
    read = set(re.findall(r'env_(?:str|secret|bool|int|choice|list)\(\s*"([A-Z][A-Z0-9_]+)"', code))
    assert {"REDIS_URL", "REDIS_TIMEOUT", "AUTH_CACHE_SECONDS", "OVERVIEW_CACHE_SECONDS"} <= read
    readme, example = (root / "README.md").read_text(), (root / ".env.example").read_text()
    assert sorted(name for name in read if f"`{name}`" not in readme) == []
    assert sorted(name for name in read if not re.search(rf"^#.*\b{name}=", example, re.M)) == []
