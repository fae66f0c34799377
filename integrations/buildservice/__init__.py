"""Build services: turn an application commit plus a model version into a container image."""

from __future__ import annotations

from integrations.buildservice.base import (
    TERMINAL_STATES,
    BuildRequest,
    BuildService,
    BuildState,
    ExternalBuild,
)

__all__ = [
    "TERMINAL_STATES",
    "BuildRequest",
    "BuildService",
    "BuildState",
    "ExternalBuild",
    "build_build_service",
]


def build_build_service(config: dict[str, str]) -> BuildService:
    """Build the service named by ``config["kind"]`` ("azure_devops")."""
    kind = config.get("kind", "")
    if kind == "azure_devops":
        # imported here: the SDK import sets up its discovery cache and takes a while
        from integrations.buildservice.azure_devops import AzureDevOpsBuildService

        return AzureDevOpsBuildService(
            organization_url=config["organization_url"],
            project=config["project"],
            definition_id=int(config["definition_id"]),
            pat=config["pat"],
        )
    raise ValueError(f"unknown build service kind {kind!r}")
