"""Image label names.

The OCI ones follow the pre-defined annotation keys of the image spec
(https://github.com/opencontainers/image-spec/blob/main/annotations.md); ours record which
model is baked into an image so a registry listing alone can answer "what runs where".
"""

from __future__ import annotations

OCI_REVISION = "org.opencontainers.image.revision"
OCI_SOURCE = "org.opencontainers.image.source"
OCI_CREATED = "org.opencontainers.image.created"

MODEL_NAME = "ai.release.model.name"
MODEL_VERSION = "ai.release.model.version"
MODEL_SHA256 = "ai.release.model.sha256"

# Set as manifest annotations as well, so registries can show them without fetching the config.
MANIFEST_ANNOTATIONS = (OCI_REVISION, OCI_SOURCE, OCI_CREATED)
