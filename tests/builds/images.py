"""Images with chosen labels, built with our own OCI builder, for tag-sync and runner tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integrations.images import labels
from integrations.images.oci import ImageConfig, LayerSource, build_image


def labelled_image(
    work: Path, *, commit: str, model: str, version: int | str, sha256: str, salt: str = ""
) -> Any:
    app = work / "src" / "app"
    app.mkdir(parents=True, exist_ok=True)
    (app / "serve.py").write_text(f"print('serving {salt}')\n")
    spec = ImageConfig(
        labels={
            labels.OCI_REVISION: commit,
            labels.MODEL_NAME: model,
            labels.MODEL_VERSION: str(version),
            labels.MODEL_SHA256: sha256,
        },
        entrypoint=["python3", "serve.py"],
        cmd=[],
        workdir="/app",
        env={},
        exposed_ports=[8080],
        created=datetime(2026, 11, 1, tzinfo=UTC),
    )
    return build_image([LayerSource(app, "/app")], spec, work / "image")
