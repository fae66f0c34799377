"""The filesystem model store's pinning and checked reads, on a real directory."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from integrations.errors import IntegrityMismatch, NotFound, PermanentError
from integrations.modelstore import verified
from integrations.modelstore.filesystem import FilesystemStore


def content_key(sha256: str) -> str:
    return f"churn/{sha256}/model.pkl"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> FilesystemStore:
    return FilesystemStore(tmp_path / "models")


def publish(store: FilesystemStore, key: str, data: bytes) -> None:
    path = store.root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_it_pins_a_published_file_by_copying_it_under_its_digest(store):
    publish(store, "churn/latest/model.pkl", b"published weights")

    pinned = store.pin("churn/latest/model.pkl", target_for=content_key)

    assert pinned.sha256 == sha(b"published weights")
    assert pinned.stored.key == content_key(pinned.sha256)
    assert (store.root / pinned.stored.key).read_bytes() == b"published weights"
    publish(store, "churn/latest/model.pkl", b"the next model")  # the publisher moves on
    assert b"".join(store.open(pinned.stored.key, etag=pinned.stored.etag)) == b"published weights"
    assert not [p for p in store.root.rglob(".upload-*")]  # no temporary file left behind


def test_it_refuses_to_pin_a_file_changed_since_it_was_listed(store):
    publish(store, "churn/latest/model.pkl", b"monday")
    listed = store.stat("churn/latest/model.pkl").etag
    publish(store, "churn/latest/model.pkl", b"tuesday!")

    with pytest.raises(IntegrityMismatch, match="has changed"):
        store.pin("churn/latest/model.pkl", etag=listed, target_for=content_key)

    assert sorted(p.name for p in store.root.rglob("*") if p.is_file()) == ["model.pkl"]


def test_it_refuses_a_target_that_holds_other_content(store):
    publish(store, "churn/latest/model.pkl", b"weights")
    publish(store, content_key(sha(b"weights")), b"something else")

    with pytest.raises(IntegrityMismatch, match="already exists with other content"):
        store.pin("churn/latest/model.pkl", target_for=content_key)


def test_a_read_at_the_registered_etag_refuses_a_rewritten_file(store):
    publish(store, "m/model.bin", b"registered")
    registered = store.stat("m/model.bin").etag
    publish(store, "m/model.bin", b"rewritten bytes")

    with pytest.raises(IntegrityMismatch, match="has changed"):
        next(store.open("m/model.bin", etag=registered))
    with pytest.raises(NotFound):
        next(store.open("m/gone.bin", etag=registered))


def test_files_have_no_versions(store):
    publish(store, "m/model.bin", b"x")
    with pytest.raises(PermanentError, match="no versions"):
        store.stat("m/model.bin", version_id="2026-01-01T00:00:00Z")


def test_a_checked_read_holds_back_the_last_chunk_until_the_content_matches():
    chunks = [b"a" * 10, b"b" * 10, b"c" * 10]
    good = sha(b"".join(chunks))
    assert list(verified(iter(chunks), sha256=good, size=30, what="v1")) == chunks

    handed_out = []
    with pytest.raises(IntegrityMismatch, match="v1 does not match what was registered"):
        for chunk in verified(iter([*chunks[:2], b"X" * 10]), sha256=good, size=30, what="v1"):
            handed_out.append(chunk)
    assert handed_out == chunks[:2]  # the reader never got the whole (other) content
    with pytest.raises(IntegrityMismatch):
        list(verified(iter([*chunks, b"more"]), sha256=good, size=30, what="v1"))


def test_a_checked_read_stops_the_store_read_it_abandons(store):
    publish(store, "m/model.bin", os.urandom(20))  # longer than registered: abandoned at once
    reads = store.open("m/model.bin")
    with pytest.raises(IntegrityMismatch):
        list(verified(reads, sha256="0" * 64, size=10, what="v1"))
    assert reads.gi_frame is None  # the generator (and its file) was closed
