"""The one place that builds adapters to external systems from the settings.

Apps ask here for the model store, the image registry, the git cache, an external build service
or a deployment target; no app builds one itself or imports another app's factory. Each takes
plain values (settings, a target's kind and settings), never a model of an app, so ``core`` stays
below the apps. Adapters that hold connections are built once per process; tests that change
the settings call :func:`clear_caches`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from core.errors import ServiceError
from integrations.buildservice.base import BuildService
from integrations.deploy.base import DeploymentTarget
from integrations.git import GitCache
from integrations.modelstore import ModelStore, build_store
from integrations.registry import Registry, build_registry

if TYPE_CHECKING:  # the kubernetes client loads only where a cluster is used (workers)
    from integrations.deploy.kubernetes_access import ClusterAccess
    from integrations.deploy.kubernetes_check import ConnectionReport

AZURE_DEVOPS_ENV = {
    "organization_url": "AZURE_DEVOPS_ORG_URL",
    "project": "AZURE_DEVOPS_PROJECT",
    "definition_id": "AZURE_DEVOPS_PIPELINE_ID",
    "pat": "AZURE_DEVOPS_PAT",
}


@cache
def model_store() -> ModelStore:
    return build_store(settings.MODEL_STORE)


@cache
def registry() -> Registry:
    return build_registry(settings.IMAGE_REGISTRY)


@cache
def git_cache() -> GitCache:
    return GitCache(settings.GIT_CACHE_DIR)


def build_service(kind: str) -> BuildService:
    """The external build service of this kind (the local builder is driven separately)."""
    if kind == "azure-devops":
        return _azure_devops()
    raise ServiceError(f"Unknown build service {kind!r}.")


@cache
def _azure_devops() -> BuildService:
    config = settings.AZURE_DEVOPS
    missing = [env for key, env in AZURE_DEVOPS_ENV.items() if not config.get(key)]
    if missing:
        raise ServiceError(f"Azure DevOps is not configured: set {', '.join(missing)}.")
    from integrations.buildservice.azure_devops import AzureDevOpsBuildService

    return AzureDevOpsBuildService(
        organization_url=config["organization_url"],
        project=config["project"],
        definition_id=config["definition_id"],
        pat=config["pat"],
    )


def cluster_access(values: dict[str, Any]) -> ClusterAccess:
    """How to reach a registered cluster, from its row's plain values (``Cluster.access_values``)."""
    from integrations.deploy.kubernetes_access import ClusterAccess

    return ClusterAccess(**values)


def check_cluster(values: dict[str, Any], namespace: str) -> ConnectionReport:
    """Test the connection to a registered cluster (a job calls this, never a web request)."""
    from integrations.deploy.kubernetes_check import check_connection

    return check_connection(cluster_access(values), namespace)


def deployment_target(
    kind: str, config: dict[str, Any], *, name: str, cluster: dict[str, Any] | None = None
) -> DeploymentTarget:
    """A target of ``kind`` ("local" or "kubernetes") with its (validated) settings; ``name``
    names the local target's state folder, e.g. "churn-predictor-staging". ``cluster``: the
    plain values of the registered cluster a Kubernetes target names (``"cluster"`` setting)."""
    if kind == "local":
        from integrations.deploy.local import LocalProcessTarget

        state_dir = Path(settings.VAR_DIR) / "environments" / name
        timeout = float(config.get("health_timeout", 60))
        return LocalProcessTarget(registry(), state_dir, config["port"], health_timeout=timeout)
    if kind == "kubernetes":
        from integrations.deploy.kubernetes import KubernetesTarget

        return KubernetesTarget(
            config["namespace"],
            config["deployment"],
            config.get("container") or "app",
            kubeconfig=config.get("kubeconfig") or None,
            context=config.get("context") or None,
            in_cluster=bool(config.get("in_cluster")),
            cluster=cluster_access(cluster) if cluster is not None else None,
            progress_deadline=config.get("progress_deadline"),
            app_url=config.get("app_url") or None,
        )
    raise ServiceError(f"Unknown deployment target {kind!r}.")


def clear_caches() -> None:
    for built in (model_store, registry, git_cache, _azure_devops):
        built.cache_clear()
