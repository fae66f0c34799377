"""Container images assembled from parts (app tree, model file) without a Docker engine."""

from integrations.images.oci import (
    BlobRef,
    BuiltImage,
    ImageSpec,
    LayerSource,
    build_image,
    unpack_image,
)

__all__ = ["BlobRef", "BuiltImage", "ImageSpec", "LayerSource", "build_image", "unpack_image"]
