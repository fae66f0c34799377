"""Building OCI images from parts, and unpacking them safely."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from integrations.errors import PermanentError
from integrations.images import labels
from integrations.images.oci import (
    CONFIG_MEDIA_TYPE,
    LAYER_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    LayerSource,
    build_image,
    unpack_image,
)
from tests.fixtures.registry import build_small_image


def sha256_file(path: Path, *, gunzip: bool = False) -> str:
    opener = gzip.open if gunzip else open
    with opener(path, "rb") as f:
        return "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()


def tar_layer(path: Path, entries: list[tuple[str, bytes | None, str]]) -> Path:
    """A hand-made layer: (name, content or None for a directory, symlink target or "")."""
    with tarfile.open(path, "w:gz") as tar:
        for name, content, link in entries:
            info = tarfile.TarInfo(name)
            if link:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            elif content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return path


def test_it_builds_byte_identical_images_from_the_same_sources(tmp_path: Path) -> None:
    first = build_small_image(tmp_path / "one")
    second = build_small_image(tmp_path / "two")
    os.utime(tmp_path / "two" / "src" / "model.bin", (1, 1))  # file times must not matter
    third = build_image(
        [
            LayerSource(tmp_path / "two/src/app", "/app"),
            LayerSource(tmp_path / "two/src/model.bin", "/model/model.bin"),
        ],
        _spec_of(first),
        tmp_path / "three",
    )
    assert first.manifest_digest == second.manifest_digest == third.manifest_digest
    assert [layer.digest for layer in first.layers] == [layer.digest for layer in third.layers]


def _spec_of(image):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from integrations.images.oci import ImageConfig

    config = json.loads(image.config.path.read_bytes())["config"]
    return ImageConfig(
        labels=config["Labels"],
        entrypoint=config["Entrypoint"],
        cmd=config["Cmd"],
        workdir=config["WorkingDir"],
        env=dict(item.split("=", 1) for item in config["Env"]),
        exposed_ports=[8000],
        created=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    )


def test_it_writes_a_valid_manifest_config_and_layers(tmp_path: Path) -> None:
    image = build_small_image(tmp_path)
    manifest = json.loads(image.manifest_bytes)
    assert image.manifest_digest == "sha256:" + hashlib.sha256(image.manifest_bytes).hexdigest()
    assert manifest["schemaVersion"] == 2 and manifest["mediaType"] == MANIFEST_MEDIA_TYPE
    assert manifest["config"] == {
        "mediaType": CONFIG_MEDIA_TYPE,
        "digest": image.config.digest,
        "size": image.config.size,
    }
    assert manifest["annotations"] == {labels.OCI_REVISION: "abc123"}
    for desc, layer in zip(manifest["layers"], image.layers, strict=True):
        assert desc == {"mediaType": LAYER_MEDIA_TYPE, "digest": layer.digest, "size": layer.size}
        assert sha256_file(layer.path) == layer.digest and layer.path.stat().st_size == layer.size
    assert sha256_file(image.config.path) == image.config.digest

    config = json.loads(image.config.path.read_bytes())
    assert (config["architecture"], config["os"], config["created"]) == (
        "amd64",
        "linux",
        "2024-05-01T12:00:00Z",
    )
    assert config["config"]["Labels"][labels.MODEL_NAME] == "churn"
    assert config["config"]["Entrypoint"] == ["python"] and config["config"]["Cmd"] == ["/app/main.py"]
    assert config["config"]["WorkingDir"] == "/app"
    assert config["config"]["Env"] == ["MODEL_PATH=/model/model.bin"]
    assert config["config"]["ExposedPorts"] == {"8000/tcp": {}}
    assert config["rootfs"]["diff_ids"] == [sha256_file(layer.path, gunzip=True) for layer in image.layers]
    assert len(config["history"]) == 2


def test_layers_have_sorted_entries_with_fixed_owner_time_and_modes(tmp_path: Path) -> None:
    image = build_small_image(tmp_path)
    with tarfile.open(image.layers[0].path) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["app", "app/main.py", "app/pkg", "app/pkg/__init__.py"]
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {(0, 0, "", "", 0)}
    assert {m.name: m.mode for m in members}["app/main.py"] == 0o644
    with tarfile.open(image.layers[1].path) as tar:
        assert [m.name for m in tar.getmembers()] == ["model", "model/model.bin"]


def test_unpacking_gives_back_the_source_files(tmp_path: Path) -> None:
    image = build_small_image(tmp_path, model=os.urandom(300_000))
    os.symlink("main.py", tmp_path / "src" / "app" / "current")
    image = build_image([LayerSource(tmp_path / "src" / "app", "/app")], _spec_of(image), tmp_path / "again")
    root = tmp_path / "root"
    unpack_image([layer.path for layer in image.layers], root)
    assert (root / "app" / "main.py").read_text() == "print('serving')\n"
    assert os.readlink(root / "app" / "current") == "main.py"
    assert (root / "app" / "pkg" / "__init__.py").exists()


def test_unpacking_applies_layers_in_order_with_whiteouts(tmp_path: Path) -> None:
    lower = tar_layer(
        tmp_path / "lower.tar.gz",
        [
            ("etc", None, ""),
            ("etc/a", b"a", ""),
            ("etc/b", b"b", ""),
            ("data", None, ""),
            ("data/x", b"x", ""),
        ],
    )
    upper = tar_layer(
        tmp_path / "upper.tar.gz",
        [("etc/.wh.a", b"", ""), ("etc/b", b"new", ""), ("data/.wh..wh..opq", b"", ""), ("data/y", b"y", "")],
    )
    root = tmp_path / "root"
    unpack_image([lower, upper], root)
    assert sorted(p.name for p in (root / "etc").iterdir()) == ["b"]
    assert (root / "etc" / "b").read_bytes() == b"new"
    assert sorted(p.name for p in (root / "data").iterdir()) == ["y"]


@pytest.mark.parametrize(
    "entries",
    [
        [("../escape.txt", b"x", "")],
        [("/etc/passwd-from-layer", b"x", "")],
        [("link", None, "/etc")],
        [("link", None, "../../outside")],
        [("app/../../escape.txt", b"x", "")],
    ],
    ids=["dot-dot", "absolute", "absolute-link", "escaping-link", "nested-dot-dot"],
)
def test_unpacking_refuses_paths_that_escape_the_root(tmp_path: Path, entries: list) -> None:
    layer = tar_layer(tmp_path / "evil.tar.gz", entries)
    with pytest.raises(PermanentError):
        unpack_image([layer], tmp_path / "root")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path.parent / "outside").exists()


def test_building_refuses_links_pointing_outside_the_source(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    os.symlink("/etc/passwd", app / "passwd")
    with pytest.raises(PermanentError, match="points outside"):
        build_image([LayerSource(app, "/app")], _spec_of(build_small_image(tmp_path / "x")), tmp_path / "out")


@pytest.mark.parametrize("target", ["app", "/", "/app/../etc", "/app/./x"])
def test_building_refuses_unsafe_targets(tmp_path: Path, target: str) -> None:
    image = build_small_image(tmp_path / "x")
    with pytest.raises(PermanentError, match="target"):
        build_image([LayerSource(tmp_path / "x" / "src" / "app", target)], _spec_of(image), tmp_path / "out")
