"""Reaching a registered cluster: a Kubernetes ApiClient from plain values, and a connection check.

The values come from a cluster row (``core.adapters`` hands them over); nothing here knows
Django. Four ways to authenticate: a bearer token, the text of a kubeconfig (with a context),
the pod's own service account (in-cluster), and Azure workload identity for AKS with Entra ID.

https://kubernetes.io/docs/reference/access-authn-authz/authentication/
"""

from __future__ import annotations

import functools
import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes import config as kube_config
from urllib3.util.retry import Retry

from integrations.deploy.kubernetes_api import SYSTEM, USER_AGENT
from integrations.errors import PermanentError

# The Entra ID application of AKS's Kubernetes API (the same for every AKS cluster).
# https://learn.microsoft.com/en-us/azure/aks/kubelogin-authentication
AKS_SCOPE = "6dae42f8-4368-4678-94ff-3960e28e3630/.default"
AUTH_KINDS = ("in-cluster", "token", "kubeconfig", "azure")


@dataclass(frozen=True)
class ClusterAccess:
    """How to reach one cluster. ``token`` and ``kubeconfig`` are secrets: never in repr."""

    name: str
    url: str
    auth_kind: str
    ca_bundle: str = ""
    token: str = field(default="", repr=False)
    kubeconfig: str = field(default="", repr=False)
    context: str = ""


def cluster_client(access: ClusterAccess) -> client.ApiClient:
    """An ApiClient of its own for ``access`` (never the process-wide default configuration)."""
    cfg = client.Configuration()
    try:
        _authenticate(cfg, access)
    except PermanentError:
        raise
    except (kube_config.ConfigException, OSError, TypeError, ValueError, yaml.YAMLError) as e:
        raise PermanentError(
            f"cluster {access.name}: cannot load its {access.auth_kind} credentials: {e}", system=SYSTEM
        ) from e
    if access.url and access.auth_kind != "kubeconfig":
        cfg.host = access.url.rstrip("/")
    if access.ca_bundle.strip():
        cfg.ssl_ca_cert = str(_ca_file(access.ca_bundle))
    # As in kubernetes_api.api_client: one retry where it is safe, never on status codes.
    cfg.retries = Retry(total=1, connect=1, read=1, status=0, other=0, redirect=0)
    api = client.ApiClient(cfg)
    api.user_agent = USER_AGENT
    return api


def _authenticate(cfg: client.Configuration, access: ClusterAccess) -> None:
    if access.auth_kind == "token":
        if not access.token:
            raise PermanentError(f"cluster {access.name} needs credentials: no token is set", system=SYSTEM)
        cfg.api_key = {"authorization": f"Bearer {access.token}"}
    elif access.auth_kind == "kubeconfig":
        if not access.kubeconfig:
            raise PermanentError(
                f"cluster {access.name} needs credentials: no kubeconfig is set", system=SYSTEM
            )
        loaded = yaml.safe_load(access.kubeconfig)
        if not isinstance(loaded, dict):
            raise ValueError("the kubeconfig is not a YAML mapping")
        kube_config.load_kube_config_from_dict(
            loaded, context=access.context or None, client_configuration=cfg, persist_config=False
        )
    elif access.auth_kind == "in-cluster":
        kube_config.load_incluster_config(client_configuration=cfg)
    elif access.auth_kind == "azure":

        def bearer(configuration: client.Configuration) -> None:
            configuration.api_key = {"authorization": f"Bearer {_azure_token(access.name)}"}

        bearer(cfg)
        # Asked before every request: the credential answers from its cache and renews the token
        # before it expires, so a rollout that outlives one token (about an hour) keeps access.
        cfg.refresh_api_key_hook = bearer  # type: ignore[assignment]  # the client declares it None
    else:
        raise PermanentError(f"cluster {access.name}: unknown auth kind {access.auth_kind!r}", system=SYSTEM)


def _azure_token(name: str) -> str:
    """A token for the AKS API from workload identity (or any DefaultAzureCredential source).

    https://learn.microsoft.com/en-us/python/api/azure-identity/azure.identity.defaultazurecredential
    """
    from azure.core.exceptions import ClientAuthenticationError

    try:
        return str(azure_credential().get_token(AKS_SCOPE).token)
    except ClientAuthenticationError as e:
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise PermanentError(f"cluster {name}: no Azure token for AKS: {message}", system=SYSTEM) from e


@functools.cache
def azure_credential() -> Any:
    """One DefaultAzureCredential per process: it keeps the tokens it got and renews each before
    it expires, where a new one per request would ask Entra ID (or the identity endpoint) every time.
    ``azure_credential.cache_clear()`` forgets it (tests that change the identity's environment)."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def _ca_file(pem: str) -> Path:
    """The CA bundle as a file (the client reads CA certificates only from a path). A CA bundle
    is public, so one file per content, kept for the life of the process, is harmless."""
    digest = hashlib.sha256(pem.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"cluster-ca-{digest}.pem"
    if not path.exists():
        partial = path.with_suffix(f".{digest}.tmp")
        partial.write_text(pem)
        partial.replace(path)
    return path


def kubeconfig_server(text: str, context: str) -> str:
    """The API server URL a kubeconfig's context (or its current context) points at; "" if none."""
    try:
        loaded: Any = yaml.safe_load(text)
        name = context or loaded.get("current-context") or ""
        ctx = next(c["context"] for c in loaded.get("contexts") or [] if c.get("name") == name)
        return str(
            next(c["cluster"]["server"] for c in loaded["clusters"] if c.get("name") == ctx["cluster"])
        )
    except (yaml.YAMLError, AttributeError, KeyError, TypeError, StopIteration):
        return ""
