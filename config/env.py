"""Configuration from environment variables, read in one place and validated at start-up.

Every variable the product reads is declared here and documented in ``.env.example`` and
the README. Secrets may also come from ``<NAME>_FILE`` (a path whose content is the value),
which is how Kubernetes secrets and Docker secrets are usually mounted.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from django.core.exceptions import ImproperlyConfigured

TRUE_VALUES = {"1", "true", "yes", "on"}
FALSE_VALUES = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_secret(name: str, default: str = "") -> str:
    """The value of ``name``, or the content of the file named by ``name_FILE``."""
    path = os.environ.get(f"{name}_FILE", "").strip()
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path}: cannot read the file ({exc.strerror})") from exc
    return env_str(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ImproperlyConfigured(f"{name}={value} is out of range [{minimum}, {maximum}]")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of: {', '.join(choices)}")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def proxy_ssl_header(value: str) -> tuple[str, str] | None:
    """``X-Forwarded-Proto: https`` → Django's ``("HTTP_X_FORWARDED_PROTO", "https")``; empty: None."""
    if not value:
        return None
    header, sep, expected = value.partition(":")
    if not sep or not re.fullmatch(r"[A-Za-z0-9-]+", header.strip()) or not expected.strip():
        raise ImproperlyConfigured(
            f"SECURE_PROXY_SSL_HEADER={value!r} must look like 'X-Forwarded-Proto: https' (header: value)"
        )
    return "HTTP_" + header.strip().upper().replace("-", "_"), expected.strip()


def parse_role_map(raw: str, roles: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """``<group>=<role>,<group>=<role>`` as (group, role) pairs; a group may name several roles."""
    pairs: list[tuple[str, str]] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        group, sep, role = (text.strip() for text in item.rpartition("="))
        if not sep or not group or not role:
            raise ImproperlyConfigured(f"OIDC_ROLE_MAP: {item!r} is not <group>=<role>")
        if role not in roles:
            raise ImproperlyConfigured(
                f"OIDC_ROLE_MAP: {role!r} is not a role; use one of: {', '.join(roles)} "
                "(admins stay a local decision: manage.py createuser NAME --role admin)"
            )
        pairs.append((group, role))
    return tuple(pairs)


def with_query_defaults(url: str, **params: object) -> str:
    """``url`` with each of ``params`` added to its query string unless it already sets it
    (e.g. socket timeouts on a Redis URL, which redis-py reads from there). The part before
    the ``?`` is kept as written: ``unix:///path`` must keep its empty host."""
    base, _, query = url.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    given = {name for name, _ in pairs}
    pairs += [(name, str(value)) for name, value in params.items() if name not in given]
    return f"{base}?{urlencode(pairs)}" if pairs else base
