"""With the production settings the manifests ship, ``manage.py check --deploy`` finds nothing,
and what those settings turn on (HTTPS redirect, HSTS, secure cookies) holds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import proxy_ssl_header
from tests.fixtures.shared import PROJECT_ROOT

DASHBOARD_ENV = PROJECT_ROOT / "k8s" / "dashboard" / "dashboard.env"
SECRET_VALUES = {
    "SECRET_KEY": "k8s-like-secret-key-" + "x7Qp2LmZ9vR4tY8wB3nK6jH1fD5sA0gC" * 2,
    "DATABASE_URL": "postgres://dashboard:pw@db.example.internal:5432/dashboard",
    "REDIS_URL": "redis://redis.example.internal:6379/0",
    "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=a2V5;EndpointSuffix=core.windows.net",
    "METRICS_TOKEN": "metrics-token-from-the-secret",
}


def shipped_environment(secrets_dir: Path) -> dict[str, str]:
    """dashboard.env as the pods get it, its secret files written under ``secrets_dir``."""
    env = {}
    for line in DASHBOARD_ENV.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, value = line.partition("=")
        if name.endswith("_FILE") and value.startswith("/etc/dashboard/secrets/"):
            secret = name.removesuffix("_FILE")
            value = str(secrets_dir / secret)
            Path(value).write_text(SECRET_VALUES.get(secret, ""))
        env[name] = value
    return env


def test_check_deploy_is_clean_with_the_shipped_production_settings(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    production = shipped_environment(secrets)
    assert production["SECURE_SSL_REDIRECT"] == "true" and int(production["SECURE_HSTS_SECONDS"]) > 0
    keep = ("PATH", "LANG", "SYSTEMROOT")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env |= {
        **production,
        "DEBUG": "false",
        "VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "System check identified no issues (1 silenced)." in output  # W021: HSTS preload, see settings


def test_without_the_production_settings_check_deploy_warns(tmp_path: Path) -> None:
    """The check above can fail: the same command on the development defaults warns."""
    env = {name: os.environ[name] for name in ("PATH", "LANG") if name in os.environ}
    env |= {"VAR_DIR": str(tmp_path / "var"), "SECRET_KEY": SECRET_VALUES["SECRET_KEY"]}
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "security.W004" in output and "security.W008" in output and "security.W012" in output


@pytest.fixture
def production(settings: Any) -> Any:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.ALLOWED_HOSTS = ["dashboard.example.com", "localhost"]
    return settings


def test_plain_http_is_redirected_but_probes_and_metrics_are_not(client: Any, production: Any) -> None:
    page = client.get("/login/", HTTP_HOST="dashboard.example.com")
    assert page.status_code == 301
    assert page["Location"] == "https://dashboard.example.com/login/"
    assert client.get("/healthz", HTTP_HOST="localhost").status_code == 200
    production.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_HOST="localhost").status_code == 404  # reached, not redirected


@pytest.mark.django_db
def test_https_through_the_ingress_gets_hsts_and_no_redirect(client: Any, production: Any) -> None:
    page = client.get("/login/", HTTP_HOST="dashboard.example.com", HTTP_X_FORWARDED_PROTO="https")
    assert page.status_code == 200
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Content-Security-Policy" in page  # django-csp still answers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("X-Forwarded-Proto: https", ("HTTP_X_FORWARDED_PROTO", "https")),
        ("X-Forwarded-Scheme:https", ("HTTP_X_FORWARDED_SCHEME", "https")),
        ("", None),
    ],
)
def test_the_proxy_ssl_header_is_written_as_a_header(raw: str, expected: Any) -> None:
    assert proxy_ssl_header(raw) == expected


@pytest.mark.parametrize("raw", ["X-Forwarded-Proto", "X Forwarded: https", "X-Forwarded-Proto:"])
def test_a_malformed_proxy_ssl_header_names_the_variable(raw: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="SECURE_PROXY_SSL_HEADER="):
        proxy_ssl_header(raw)


def test_csrf_trusted_origins_must_be_origins(tmp_path: Path) -> None:
    env = {name: os.environ[name] for name in ("PATH", "LANG") if name in os.environ}
    env |= {"VAR_DIR": str(tmp_path / "var"), "CSRF_TRUSTED_ORIGINS": "dashboard.example.com"}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "CSRF_TRUSTED_ORIGINS: 'dashboard.example.com' is not an origin" in done.stderr


@pytest.mark.parametrize(("pod_ip", "host"), [("10.244.1.17", "10.244.1.17"), ("fd00::17", "[fd00::17]")])
def test_the_pods_own_address_is_an_allowed_host(tmp_path: Path, pod_ip: str, host: str) -> None:
    """Prometheus scrapes each web pod at its IP (from the downward API in web-deployment.yaml)."""
    env = {name: os.environ[name] for name in ("PATH", "LANG") if name in os.environ}
    env |= {"VAR_DIR": str(tmp_path / "var"), "POD_IP": pod_ip, "DJANGO_SETTINGS_MODULE": "config.settings"}
    script = "import django; django.setup(); from django.conf import settings; print(settings.ALLOWED_HOSTS)"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert repr(host) in done.stdout
    assert "POD_IP" in (PROJECT_ROOT / "k8s" / "dashboard" / "web-deployment.yaml").read_text()
