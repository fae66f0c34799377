"""The configured registry, build services and git cache (built once per process)."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from dashboard.errors import ServiceError
from integrations.buildservice.base import BuildService
from integrations.git import GitCache
from integrations.registry import Registry, build_registry


@cache
def get_registry() -> Registry:
    return build_registry(settings.IMAGE_REGISTRY)


@cache
def get_git_cache() -> GitCache:
    return GitCache(settings.GIT_CACHE_DIR)


def get_build_service(kind: str) -> BuildService:
    """The external build service of this kind (the local builder is driven separately)."""
    if kind == "azure-devops":
        return _azure_devops()
    raise ServiceError(f"Unknown build service {kind!r}.")


AZURE_DEVOPS_ENV = {
    "organization_url": "AZURE_DEVOPS_ORG_URL",
    "project": "AZURE_DEVOPS_PROJECT",
    "definition_id": "AZURE_DEVOPS_PIPELINE_ID",
    "pat": "AZURE_DEVOPS_PAT",
}


@cache
def _azure_devops() -> BuildService:
    config = settings.AZURE_DEVOPS
    missing = [env for key, env in AZURE_DEVOPS_ENV.items() if not config[key]]
    if missing:
        raise ServiceError(f"Azure DevOps is not configured: set {', '.join(missing)}.")
    from integrations.buildservice.azure_devops import AzureDevOpsBuildService

    return AzureDevOpsBuildService(
        organization_url=config["organization_url"],
        project=config["project"],
        definition_id=config["definition_id"],
        pat=config["pat"],
    )


def clear_caches() -> None:
    get_registry.cache_clear()
    get_git_cache.cache_clear()
    _azure_devops.cache_clear()
