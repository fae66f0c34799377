"""Container registries: push built images, list tags, read configs, pull images.

``build_registry`` turns configuration (from settings / environment) into one of the
implementations: the embedded OCI-layout directory, any OCI distribution registry, or ACR.
"""

from __future__ import annotations

from pathlib import Path

from integrations.errors import PermanentError
from integrations.registry.base import (
    ImageConfig,
    ImageRef,
    PulledImage,
    Registry,
    TagDetails,
    TagInfo,
)

__all__ = ["ImageConfig", "ImageRef", "PulledImage", "Registry", "TagDetails", "TagInfo", "build_registry"]


def _require(config: dict[str, str], key: str) -> str:
    value = config.get(key, "").strip()
    if not value:
        raise PermanentError(
            f"registry kind {config.get('kind')!r} needs {key!r}", system="container registry"
        )
    return value


def build_registry(config: dict[str, str]) -> Registry:
    """Keys: ``kind`` plus, per kind, oci-layout: ``root`` [``host``]; distribution: ``url``
    [``username``, ``password``]; acr: ``endpoint`` [``username``, ``password``], else
    DefaultAzureCredential."""
    kind = config.get("kind", "oci-layout")
    if kind == "oci-layout":
        from integrations.registry.oci_layout import OciLayoutRegistry

        return OciLayoutRegistry(
            Path(config.get("root") or "var/registry"), host=config.get("host") or "localhost"
        )
    if kind == "distribution":
        from integrations.registry.distribution import DistributionRegistry

        return DistributionRegistry(
            _require(config, "url"), username=config.get("username", ""), password=config.get("password", "")
        )
    if kind == "acr":
        from integrations.registry.acr import AcrRegistry  # imports the Azure SDK only when used

        return AcrRegistry(
            _require(config, "endpoint"),
            username=config.get("username", ""),
            password=config.get("password", ""),
        )
    raise PermanentError(
        f"unknown registry kind {kind!r}: use oci-layout, distribution or acr", system="container registry"
    )
