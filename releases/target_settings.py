"""The settings of each kind of deployment target: names, types, ranges, and what they mean.

``Environment.target_config`` is checked against these when it is saved (API, pages, admin)
and again before each deploy, so a mistyped setting (``"progress_deadline": "600s"``, a key
spelt ``kubconfig``) is refused with a message naming it instead of failing a rollout later.
``docs/releases.md`` shows the same table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from core import safejson
from core.errors import ServiceError

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class Setting:
    name: str
    meaning: str
    check: Callable[[Any], str | None]  # why the value is not acceptable, or None
    required: bool = False


def _integer(low: int, high: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return f"must be a whole number from {low} to {high} (not {value!r})"
        return None if low <= value <= high else f"must be from {low} to {high} (not {value})"

    return check


def _number(low: float, high: float) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return f"must be a number of seconds from {low:g} to {high:g} (not {value!r})"
        return None if low <= value <= high else f"must be from {low:g} to {high:g} (not {value})"

    return check


def _text(pattern: re.Pattern[str] | None, hint: str, max_length: int = 253) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, str) or not value or len(value) > max_length:
            return f"must be {hint} (text of 1 to {max_length} characters)"
        if pattern is not None and not pattern.match(value):
            return f"must be {hint} (not {value!r})"
        return None

    return check


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false (not {value!r})"


def _web_url(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 500:
        return "must be an http:// or https:// address of at most 500 characters"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an http:// or https:// address (not {value!r})"
    if parts.username or parts.password:
        return "must not carry a user name or password"
    return None


def _path(value: Any) -> str | None:
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 1000 or "\x00" in value:
        return "must be an absolute path on the deploy workers, e.g. /etc/dashboard/kubeconfig"
    return None


SETTINGS: dict[str, tuple[Setting, ...]] = {
    "local": (
        Setting("port", "port on this host where the environment answers", _integer(1024, 65535), True),
        Setting(
            "health_timeout",
            "seconds a new release has to answer its health check (default 60)",
            _number(1, 3600),
        ),
    ),
    "kubernetes": (
        Setting("namespace", "namespace of the Deployment", _text(DNS_LABEL, "a namespace name", 63), True),
        Setting("deployment", "name of the Deployment", _text(DNS_SUBDOMAIN, "a Deployment name"), True),
        Setting(
            "container",
            "container whose image is set (default app)",
            _text(DNS_LABEL, "a container name", 63),
        ),
        Setting(
            "cluster",
            "name of a registered cluster (Clusters page) to deploy to; replaces kubeconfig, context and in_cluster",
            _text(DNS_LABEL, "a cluster name", 63),
        ),
        Setting(
            "kubeconfig",
            "older way: kubeconfig file on the deploy workers (default: $KUBECONFIG)",
            _path,
        ),
        Setting(
            "context",
            "context in that kubeconfig (default: its current context)",
            _text(None, "a context name"),
        ),
        Setting(
            "in_cluster", "use the deploy worker's own service account instead of a kubeconfig", _boolean
        ),
        Setting(
            "progress_deadline",
            "seconds before the cluster declares a stuck rollout failed (sets progressDeadlineSeconds)",
            _integer(1, 86400),
        ),
        Setting("app_url", "where the application answers, shown as a link", _web_url),
    ),
}


def validate(kind: str, config: Any) -> dict[str, Any]:
    """``config`` when every setting is known and valid; else a ServiceError naming each problem."""
    if not isinstance(config, dict):
        raise ServiceError("target_config must be a JSON object.", field="target_config")
    try:
        safejson.check_text(config, "target_config")
    except safejson.UnsafeJSON as exc:
        raise ServiceError(f"Invalid target settings: {exc}.", field="target_config") from None
    known = {setting.name: setting for setting in SETTINGS.get(kind, ())}
    problems = [
        f'unknown setting "{name}" (a {kind} target knows {", ".join(sorted(known))})'
        for name in config
        if name not in known
    ]
    for setting in known.values():
        if setting.name not in config:
            if setting.required:
                problems.append(f'"{setting.name}" is required ({setting.meaning})')
            continue
        why = setting.check(config[setting.name])
        if why:
            problems.append(f'"{setting.name}" {why}')
    if kind == "kubernetes" and config.get("in_cluster") and ("kubeconfig" in config or "context" in config):
        problems.append('"in_cluster" cannot be combined with "kubeconfig" or "context"')
    if kind == "kubernetes" and "cluster" in config:
        problems += _cluster_problems(config)
    if problems:
        raise ServiceError(f"Invalid target settings: {'; '.join(problems)}.", field="target_config")
    return config


def _cluster_problems(config: dict[str, Any]) -> list[str]:
    from clusters.models import Cluster

    problems = []
    if any(name in config for name in ("kubeconfig", "context", "in_cluster")):
        problems.append('"cluster" cannot be combined with "kubeconfig", "context" or "in_cluster"')
    name = config["cluster"]
    if isinstance(name, str) and not Cluster.objects.filter(name=name).exists():
        problems.append(f'"cluster" names no registered cluster (not {name!r})')
    return problems


def documentation() -> str:
    """The settings as a Markdown table (docs/releases.md shows it; a test keeps it in step)."""
    rows = ["| target | setting | required | meaning |", "|---|---|---|---|"]
    for kind, settings in SETTINGS.items():
        rows += [f"| {kind} | `{s.name}` | {'yes' if s.required else 'no'} | {s.meaning} |" for s in settings]
    return "\n".join(rows)
