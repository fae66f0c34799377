"""Talking to the Kubernetes API: a client of our own, and API errors mapped to ours.

https://kubernetes.io/docs/reference/using-api/api-concepts/
"""

from __future__ import annotations

import json

from kubernetes import client
from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException
from urllib3.util.retry import Retry

from integrations.errors import (
    Conflict,
    IntegrationError,
    NotFound,
    PermanentError,
    TemporaryError,
    Unauthorized,
)

SYSTEM = "kubernetes"
USER_AGENT = "ai-release-dashboard"


def api_client(kubeconfig: str | None, context: str | None, in_cluster: bool) -> client.ApiClient:
    """An ApiClient of our own from a kubeconfig (default: $KUBECONFIG or ~/.kube/config) or
    the pod's service account.

    https://github.com/kubernetes-client/python/blob/master/kubernetes/base/config/kube_config.py
    """
    cfg = client.Configuration()
    try:
        if in_cluster:
            kube_config.load_incluster_config(client_configuration=cfg)
        else:
            kube_config.load_kube_config(
                config_file=kubeconfig, context=context, client_configuration=cfg, persist_config=False
            )
    except (kube_config.ConfigException, OSError, TypeError, ValueError) as e:
        source = "the in-cluster service account" if in_cluster else f"kubeconfig {kubeconfig or '(default)'}"
        raise PermanentError(f"cannot load Kubernetes credentials from {source}: {e}", system=SYSTEM) from e
    # One retry, and only where it is safe: connecting, and reading for idempotent methods (not
    # PATCH). It covers a kept-alive connection the server closed just as we reused it; everything
    # else is the caller's decision, and a hung server must fail fast, not four times over.
    cfg.retries = Retry(total=1, connect=1, read=1, status=0, other=0, redirect=0)
    api = client.ApiClient(cfg)
    api.user_agent = USER_AGENT
    return api


def server_message(e: ApiException) -> str:
    try:
        return json.loads(e.body or "")["message"]
    except (ValueError, KeyError, TypeError):
        return (e.body or e.reason or "").strip() or f"HTTP {e.status}"


def retry_after_seconds(e: ApiException) -> float | None:
    value = (e.headers or {}).get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def api_error(e: ApiException, what: str) -> IntegrationError:
    """Map an API status to our errors: https://kubernetes.io/docs/reference/using-api/api-concepts/#http-status-codes"""
    status, msg = e.status or 0, server_message(e)
    if status == 401:
        return Unauthorized(
            f"{what}: the API server rejected our credentials ({msg}); renew the kubeconfig or token",
            system=SYSTEM,
        )
    if status == 403:
        return Unauthorized(
            f"{what}: forbidden ({msg}); grant get/list/watch/patch on deployments and "
            "list on replicasets and pods in this namespace",
            system=SYSTEM,
        )
    if status == 404:
        return NotFound(f"{what}: not found ({msg})", system=SYSTEM)
    if status == 409:
        return Conflict(f"{what}: changed by someone else meanwhile ({msg})", system=SYSTEM)
    if status == 429 or status >= 500:
        return TemporaryError(
            f"{what}: API server busy or failing ({msg})", system=SYSTEM, retry_after=retry_after_seconds(e)
        )
    if status == 0:  # the client reports TLS failures this way
        return PermanentError(f"{what}: TLS connection failed: {e.reason}", system=SYSTEM)
    return PermanentError(f"{what}: rejected by the API server (HTTP {status}: {msg})", system=SYSTEM)
