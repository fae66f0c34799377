"""The OCI distribution client against a real CNCF distribution registry (docker-registry)."""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests

from integrations.errors import IntegrityMismatch, NotFound, TemporaryError
from integrations.images import labels
from integrations.images.oci import unpack_image
from integrations.registry import build_registry
from integrations.registry.distribution import DistributionRegistry
from tests.fixtures.registry import build_small_image, free_port
from tests.support.http_server import serving

pytestmark = pytest.mark.registry


@pytest.fixture
def repository() -> str:
    return f"team/app-{uuid.uuid4().hex[:10]}"  # the registry is shared by the whole session


@pytest.fixture
def registry(distribution_registry_url: str) -> DistributionRegistry:
    built = build_registry({"kind": "distribution", "url": distribution_registry_url})
    assert isinstance(built, DistributionRegistry)
    return built


def record_requests(registry: DistributionRegistry) -> list[tuple[str, str]]:
    """(method, path) of every response the client receives, via a requests hook."""
    seen: list[tuple[str, str]] = []
    registry.http.session.hooks["response"].append(
        lambda response, *a, **k: seen.append(
            (response.request.method, requests.utils.urlparse(response.url).path)
        )
    )
    return seen


def test_it_pushes_and_a_second_push_skips_existing_blobs(
    registry: DistributionRegistry, small_image, repository: str
) -> None:
    seen = record_requests(registry)
    ref = registry.push_image(repository, "v1", small_image)
    assert ref.digest == small_image.manifest_digest
    assert sum(method == "POST" for method, _ in seen) == 3  # config + two layers uploaded
    assert seen[-1] == ("PUT", f"/v2/{repository}/manifests/v1")  # manifest last
    seen.clear()
    registry.push_image(repository, "v2", small_image)
    assert [m for m, _ in seen] == ["HEAD", "HEAD", "HEAD", "PUT"]


def test_it_uploads_big_blobs_in_chunks(
    distribution_registry_url: str, tmp_path: Path, repository: str
) -> None:
    registry = DistributionRegistry(distribution_registry_url, chunk_size=64 * 1024)
    image = build_small_image(tmp_path, model=random.Random(7).randbytes(256_000))  # incompressible
    seen = record_requests(registry)
    registry.push_image(repository, "v1", image)
    assert sum(method == "PATCH" for method, _ in seen) >= 1
    pulled = registry.pull(repository, image.manifest_digest, tmp_path / "pulled")
    assert [p.read_bytes() for p in pulled.layer_paths] == [b.path.read_bytes() for b in image.layers]


def test_it_resolves_reads_config_and_pulls_verified_layers(
    registry: DistributionRegistry, small_image, repository: str, tmp_path: Path
) -> None:
    registry.push_image(repository, "v1", small_image)
    digest = registry.resolve(repository, "v1")
    assert digest == small_image.manifest_digest
    config = registry.get_config(repository, "v1")
    assert config.labels[labels.OCI_REVISION] == "abc123" and config.entrypoint == ["python"]
    assert (config.architecture, config.os, config.workdir) == ("amd64", "linux", "/app")
    pulled = registry.pull(repository, digest, tmp_path / "pulled")
    assert pulled.config == config
    unpack_image(pulled.layer_paths, tmp_path / "root")
    assert (tmp_path / "root" / "app" / "main.py").exists()
    host = registry.host
    assert registry.reference(repository, digest) == f"{host}/{repository}@{digest}"


def test_it_lists_hundreds_of_tags_even_though_the_registry_ignores_n(
    distribution_registry_url: str, small_image, repository: str
) -> None:
    registry = DistributionRegistry(distribution_registry_url, page_size=50)
    registry.push_image(repository, "v0", small_image)
    for i in range(1, 300):
        registry._put_manifest(repository, f"v{i}", small_image)
    tags = list(registry.list_tags(repository))
    assert sorted(tags) == sorted(f"v{i}" for i in range(300))


def test_unknown_tags_and_repositories_are_not_found(
    registry: DistributionRegistry, small_image, repository: str
) -> None:
    registry.push_image(repository, "v1", small_image)
    with pytest.raises(NotFound):
        registry.resolve(repository, "nope")
    with pytest.raises(NotFound):
        registry.get_config(repository, "nope")
    with pytest.raises(NotFound):
        list(registry.list_tags(f"{repository}-missing"))


def test_a_closed_port_is_a_temporary_error() -> None:
    registry = DistributionRegistry(f"http://127.0.0.1:{free_port()}", timeout=(2.0, 2.0))
    with pytest.raises(TemporaryError):
        registry.check()
    with pytest.raises(TemporaryError):
        registry.resolve("app", "v1")


def test_check_passes_against_a_running_registry(registry: DistributionRegistry) -> None:
    registry.check()


@pytest.fixture
def tampering_registry(small_image) -> Iterator[str]:
    """A registry double that serves the right manifest but a layer whose bytes were altered."""
    manifest = small_image.manifest_bytes
    blobs = {b.digest: b.path.read_bytes() for b in small_image.blobs}
    blobs[small_image.layers[0].digest] = b"X" + blobs[small_image.layers[0].digest][1:]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            name = self.path.rsplit("/", 1)[-1]
            body = manifest if "/manifests/" in self.path else blobs.get(name, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            if "/manifests/" in self.path:
                self.send_header("Content-Type", json.loads(manifest)["mediaType"])
                self.send_header("Docker-Content-Digest", "sha256:" + hashlib.sha256(manifest).hexdigest())
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler) as server:
        yield server.url


def test_a_tampered_layer_fails_the_pull_and_leaves_no_file(
    tampering_registry: str, small_image, tmp_path: Path
) -> None:
    registry = DistributionRegistry(tampering_registry)
    with pytest.raises(IntegrityMismatch):
        registry.pull("app", small_image.manifest_digest, tmp_path / "pulled")
    assert not (
        tmp_path / "pulled" / "blobs" / "sha256" / small_image.layers[0].digest.split(":")[1]
    ).exists()
