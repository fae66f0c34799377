"""Model stores: filesystem (embedded default) and Azure Blob Storage."""

from __future__ import annotations

from integrations.modelstore.base import (
    ModelStore,
    PinnedObject,
    StoredObject,
    validate_key,
    verified,
)

__all__ = [
    "ModelStore",
    "PinnedObject",
    "StoredObject",
    "build_store",
    "validate_key",
    "verified",
]


def build_store(config: dict[str, str]) -> ModelStore:
    """Build the store named by ``config["kind"]`` ("filesystem" or "azure")."""
    kind = config.get("kind", "filesystem")
    if kind == "filesystem":
        from integrations.modelstore.filesystem import FilesystemStore

        return FilesystemStore(config["path"])
    if kind == "azure":
        from integrations.modelstore.azure_blob import AzureBlobStore

        return AzureBlobStore(
            container=config["container"],
            prefix=config.get("prefix", ""),
            connection_string=config.get("connection_string", ""),
            account_url=config.get("account_url", ""),
        )
    raise ValueError(f"unknown model store kind {kind!r}")
