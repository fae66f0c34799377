"""Container images assembled from parts (app tree, model file) without a Docker engine."""

from integrations.images.oci import (
    BlobRef,
    BuiltImage,
    ImageConfig,
    LayerSource,
    build_image,
    unpack_image,
)

__all__ = ["BlobRef", "BuiltImage", "ImageConfig", "LayerSource", "build_image", "unpack_image"]
