"""The embedded registry: OCI image-layout directories under a root."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from integrations.errors import IntegrityMismatch, NotFound, PermanentError
from integrations.images import labels
from integrations.images.oci import unpack_image
from integrations.registry import TagDetails, build_registry
from integrations.registry.oci_layout import REF_NAME, OciLayoutRegistry
from tests.fixtures.registry import build_small_image


@pytest.fixture
def registry(tmp_path: Path) -> OciLayoutRegistry:
    built = build_registry(
        {"kind": "oci-layout", "root": str(tmp_path / "registry"), "host": "registry.local"}
    )
    assert isinstance(built, OciLayoutRegistry)
    return built


def test_it_pushes_an_image_as_a_valid_oci_layout(
    registry: OciLayoutRegistry, small_image, tmp_path: Path
) -> None:
    ref = registry.push_image("team/churn", "v1", small_image)
    assert (ref.repository, ref.tag, ref.digest) == ("team/churn", "v1", small_image.manifest_digest)
    layout = tmp_path / "registry" / "team" / "churn"
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((layout / "index.json").read_text())
    assert [(d["digest"], d["annotations"][REF_NAME]) for d in index["manifests"]] == [(ref.digest, "v1")]
    for blob in [small_image.config, *small_image.layers]:
        assert (layout / "blobs" / "sha256" / blob.digest.split(":")[1]).stat().st_size == blob.size
    assert registry.reference("team/churn", ref.digest) == f"registry.local/team/churn@{ref.digest}"


def test_it_lists_resolves_and_reads_the_config(registry: OciLayoutRegistry, small_image) -> None:
    registry.push_image("team/churn", "v1", small_image)
    registry.push_image("team/churn", "latest", small_image)
    assert list(registry.list_tags("team/churn")) == ["latest", "v1"]
    assert registry.resolve("team/churn", "latest") == small_image.manifest_digest
    config = registry.get_config("team/churn", "v1")
    assert config.labels[labels.MODEL_NAME] == "churn" and config.cmd == ["/app/main.py"]
    assert config.exposed_ports == [8000] and config.env == {"MODEL_PATH": "/model/model.bin"}
    assert registry.get_config("team/churn", small_image.manifest_digest) == config
    assert isinstance(registry, TagDetails)
    details = list(registry.tag_details("team/churn"))
    assert [(t.tag, t.digest) for t in details] == [
        ("latest", small_image.manifest_digest),
        ("v1", small_image.manifest_digest),
    ]
    assert details[0].created is not None and details[0].created.year == 2024


def test_pushing_a_tag_again_moves_it_to_the_new_image(registry: OciLayoutRegistry, tmp_path: Path) -> None:
    old = build_small_image(tmp_path / "old", revision="old")
    new = build_small_image(tmp_path / "new", revision="new")
    registry.push_image("app", "latest", old)
    registry.push_image("app", "latest", new)
    assert registry.resolve("app", "latest") == new.manifest_digest
    assert list(registry.list_tags("app")) == ["latest"]


def test_it_pulls_verified_files_that_unpack(
    registry: OciLayoutRegistry, small_image, tmp_path: Path
) -> None:
    registry.push_image("app", "v1", small_image)
    pulled = registry.pull("app", small_image.manifest_digest, tmp_path / "pulled")
    assert pulled.manifest_digest == small_image.manifest_digest
    assert [p.read_bytes() for p in pulled.layer_paths] == [b.path.read_bytes() for b in small_image.layers]
    unpack_image(pulled.layer_paths, tmp_path / "root")
    assert (tmp_path / "root" / "model" / "model.bin").read_bytes() == b"model-weights" * 1000


def test_pulling_a_corrupted_blob_raises_integrity_mismatch(
    registry: OciLayoutRegistry, small_image, tmp_path: Path
) -> None:
    registry.push_image("app", "v1", small_image)
    layer = tmp_path / "registry" / "app" / "blobs" / "sha256" / small_image.layers[1].digest.split(":")[1]
    layer.write_bytes(b"tampered" + layer.read_bytes()[8:])
    with pytest.raises(IntegrityMismatch):
        registry.pull("app", small_image.manifest_digest, tmp_path / "pulled")
    assert not list(
        (tmp_path / "pulled" / "blobs" / "sha256").glob(small_image.layers[1].digest.split(":")[1])
    )


def test_unknown_tags_and_repositories_are_not_found(registry: OciLayoutRegistry, small_image) -> None:
    registry.push_image("app", "v1", small_image)
    with pytest.raises(NotFound):
        registry.resolve("app", "v2")
    with pytest.raises(NotFound):
        list(registry.list_tags("missing"))
    with pytest.raises(NotFound):
        registry.get_config("missing", "v1")


@pytest.mark.parametrize("repository", ["../escape", "Upper", "app/blobs", "/abs"])
def test_it_refuses_unsafe_repository_names(
    registry: OciLayoutRegistry, small_image, repository: str
) -> None:
    with pytest.raises(PermanentError):
        registry.push_image(repository, "v1", small_image)


def test_concurrent_pushes_keep_every_tag(registry: OciLayoutRegistry, small_image) -> None:
    errors: list[Exception] = []

    def push(tag: str) -> None:
        try:
            registry.push_image("app", tag, small_image)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(f"t{i}",)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(registry.list_tags("app")) == sorted(f"t{i}" for i in range(20))


def test_check_fails_clearly_for_an_unwritable_root(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(PermanentError, match="not writable"):
        OciLayoutRegistry(tmp_path / "file" / "registry").check()
    OciLayoutRegistry(tmp_path / "ok").check()
