"""The Azure Blob Storage model store, over the wire against Azurite."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import socket
import time

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from integrations.errors import IntegrityMismatch, NotFound, TemporaryError, Unauthorized
from integrations.modelstore import build_store
from integrations.modelstore.azure_blob import AzureBlobStore
from tests.fixtures.azurite import DEVSTORE_KEY, devstore_connection_string, free_port

pytestmark = pytest.mark.azurite

KiB = 1024


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put_bytes(store: AzureBlobStore, key: str, data: bytes):
    return store.put(key, io.BytesIO(data), size=len(data), sha256=sha256_hex(data))


def raw_container(connection_string: str, store: AzureBlobStore) -> ContainerClient:
    """The container as the SDK sees it, to check what really is on the wire."""
    return BlobServiceClient.from_connection_string(connection_string).get_container_client(
        store.container_name
    )


def same_store(store: AzureBlobStore, connection_string: str, **options) -> AzureBlobStore:
    return AzureBlobStore(
        container=store.container_name, prefix="models/", connection_string=connection_string, **options
    )


class FailingStream(io.RawIOBase):
    """Gives ``good`` bytes, then fails like a dropped upload connection."""

    def __init__(self, good: bytes) -> None:
        self.good = io.BytesIO(good)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.good.read(size)
        if not chunk:
            raise ConnectionResetError("client went away")
        return chunk


class UnreadableStream(io.RawIOBase):
    def read(self, size: int = -1) -> bytes:
        raise AssertionError("put read the stream of an object that already exists")


def test_it_round_trips_an_object_with_its_digests(azure_store, azurite_connection_string):
    data = os.urandom(10 * KiB)
    stored = put_bytes(azure_store, "churn/abc/model.pkl", data)

    assert stored.key == "churn/abc/model.pkl"
    assert stored.size == len(data)
    assert stored.sha256 == sha256_hex(data)
    assert stored.content_md5 == hashlib.md5(data).hexdigest()
    assert stored.etag and not stored.etag.startswith('"')
    assert stored.last_modified is not None
    assert stored.version_id == ""
    assert azure_store.stat("churn/abc/model.pkl") == stored
    assert b"".join(azure_store.open("churn/abc/model.pkl")) == data
    assert list(azure_store.list()) == [stored]
    assert list(azure_store.list("churn/")) == [stored]
    assert list(azure_store.list("other/")) == []

    wire_names = [b.name for b in raw_container(azurite_connection_string, azure_store).list_blobs()]
    assert wire_names == ["models/churn/abc/model.pkl"]
    assert azure_store.uri("churn/abc/model.pkl").endswith(
        f"/{azure_store.container_name}/models/churn/abc/model.pkl"
    )

    azure_store.delete("churn/abc/model.pkl")
    azure_store.delete("churn/abc/model.pkl")
    with pytest.raises(NotFound):
        azure_store.stat("churn/abc/model.pkl")


def test_it_leaves_an_existing_object_alone_when_put_again(azure_store):
    data = b"weights" * 100
    first = put_bytes(azure_store, "m/model.bin", data)

    again = azure_store.put("m/model.bin", UnreadableStream(), size=len(data), sha256=sha256_hex(data))

    assert again == first


def test_it_refuses_to_take_different_content_for_an_existing_object(azure_store):
    first = put_bytes(azure_store, "m/model.bin", b"old")

    with pytest.raises(IntegrityMismatch, match="already exists"):
        put_bytes(azure_store, "m/model.bin", b"new")

    assert azure_store.stat("m/model.bin") == first


def test_it_leaves_no_blob_when_the_source_fails_midway(azure_store, azurite_connection_string):
    store = same_store(azure_store, azurite_connection_string, chunk_size=64 * KiB)
    data = os.urandom(200 * KiB)

    with pytest.raises(ConnectionResetError):
        store.put("m/model.bin", FailingStream(data), size=len(data) + 1, sha256="0" * 64)

    with pytest.raises(NotFound):
        store.stat("m/model.bin")
    assert list(store.list()) == []
    assert list(raw_container(azurite_connection_string, store).list_blobs()) == []


@pytest.mark.parametrize(
    ("size_delta", "sha256"),
    [(0, "0" * 64), (1, None), (-1, None)],
    ids=["wrong-sha256", "stream-shorter-than-size", "stream-longer-than-size"],
)
def test_it_refuses_content_that_does_not_match_and_leaves_no_blob(
    azure_store, azurite_connection_string, size_delta, sha256
):
    store = same_store(azure_store, azurite_connection_string, chunk_size=16 * KiB)
    data = os.urandom(40 * KiB)

    with pytest.raises(IntegrityMismatch, match="nothing was stored"):
        store.put(
            "m/model.bin", io.BytesIO(data), size=len(data) + size_delta, sha256=sha256 or sha256_hex(data)
        )

    with pytest.raises(NotFound):
        store.stat("m/model.bin")
    assert list(raw_container(azurite_connection_string, store).list_blobs()) == []


def test_it_pages_through_listings_longer_than_a_page(azure_store, azurite_connection_string, caplog):
    raw = raw_container(azurite_connection_string, azure_store)
    expected = [f"runs/{i:03d}.bin" for i in range(23)]
    for key in [*expected, "other/x.bin"]:
        raw.upload_blob(f"models/{key}", b"x")
    raw.upload_blob("outside-the-prefix.bin", b"x")
    store = same_store(azure_store, azurite_connection_string, results_per_page=5)

    with caplog.at_level(logging.INFO, logger="azure.core.pipeline.policies.http_logging_policy"):
        listed = [obj.key for obj in store.list("runs/")]

    assert listed == expected
    list_requests = [r for r in caplog.messages if "Request URL" in r and "maxresults=" in r]
    assert len(list_requests) == 5
    assert len(list(store.list())) == 24


def test_it_reports_an_unreachable_account_as_temporary_within_seconds():
    store = AzureBlobStore(container="models", connection_string=devstore_connection_string(free_port()))

    started = time.monotonic()
    with pytest.raises(TemporaryError, match="unreachable"):
        store.check()

    assert time.monotonic() - started < 5


def test_it_reports_a_store_that_stops_answering_as_temporary():
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections, never replies
        port = silent.getsockname()[1]
        store = AzureBlobStore(
            container="models",
            connection_string=devstore_connection_string(port),
            read_timeout=0.5,
            retry_total=0,
        )

        started = time.monotonic()
        with pytest.raises(TemporaryError, match="unreachable"):
            store.stat("m/model.bin")

    assert time.monotonic() - started < 5


def test_it_reports_a_wrong_account_key_as_unauthorized(azure_store, azurite_connection_string):
    wrong_key = azurite_connection_string.replace(DEVSTORE_KEY, "d3Jvbmc=" * 11)
    store = same_store(azure_store, wrong_key)

    with pytest.raises(Unauthorized):
        store.stat("m/model.bin")


def test_it_reports_missing_objects_and_containers_as_not_found(azure_store, azurite_connection_string):
    with pytest.raises(NotFound):
        azure_store.stat("m/missing.bin")
    with pytest.raises(NotFound):
        b"".join(azure_store.open("m/missing.bin"))

    missing = AzureBlobStore(container="no-such-container", connection_string=azurite_connection_string)
    with pytest.raises(NotFound, match="container 'no-such-container' does not exist"):
        missing.check()


def test_it_streams_a_large_object_in_several_chunks(azure_store, azurite_connection_string):
    store = same_store(azure_store, azurite_connection_string, chunk_size=256 * KiB)
    data = os.urandom(1024 * KiB + 123)

    stored = put_bytes(store, "big/model.bin", data)
    chunks = list(store.open("big/model.bin"))

    assert stored.size == len(data)
    assert len(chunks) == 5
    assert all(len(chunk) <= 256 * KiB for chunk in chunks)
    assert b"".join(chunks) == data
    committed, _ = (
        raw_container(azurite_connection_string, store)
        .get_blob_client("models/big/model.bin")
        .get_block_list()
    )
    assert len(committed) == 5


def test_it_is_built_from_settings(azure_store, azurite_connection_string):
    store = build_store(
        {
            "kind": "azure",
            "container": azure_store.container_name,
            "prefix": "models",
            "connection_string": azurite_connection_string,
        }
    )
    put_bytes(store, "a/b.bin", b"content")

    assert azure_store.stat("a/b.bin").sha256 == sha256_hex(b"content")
    store.check()


def content_key(sha256: str) -> str:
    return f"churn/{sha256}/model.pkl"


def test_it_pins_a_published_blob_with_a_server_side_copy_under_its_digest(
    azure_store, azurite_connection_string
):
    raw = raw_container(azurite_connection_string, azure_store)
    raw.upload_blob("models/churn/latest/model.pkl", b"published weights")

    pinned = azure_store.pin("churn/latest/model.pkl", target_for=content_key)

    digest = sha256_hex(b"published weights")
    assert pinned.sha256 == digest
    assert (pinned.source.key, pinned.stored.key) == ("churn/latest/model.pkl", content_key(digest))
    assert pinned.stored.sha256 == digest and pinned.stored.size == len(b"published weights")
    assert pinned.stored.version_id == ""  # Azurite keeps no versions: the copy is the pin
    copy = raw.get_blob_client(f"models/{content_key(digest)}")
    assert copy.get_blob_properties().copy.status == "success"
    assert copy.download_blob().readall() == b"published weights"
    # Pinning the same content again reuses the copy.
    assert azure_store.pin("churn/latest/model.pkl", target_for=content_key).stored == pinned.stored


def test_it_refuses_to_pin_a_blob_changed_since_it_was_listed(azure_store, azurite_connection_string):
    raw = raw_container(azurite_connection_string, azure_store)
    listed = raw.upload_blob("models/churn/latest/model.pkl", b"monday").get_blob_properties().etag.strip('"')
    raw.upload_blob("models/churn/latest/model.pkl", b"tuesday", overwrite=True)

    with pytest.raises(IntegrityMismatch, match="has changed"):
        azure_store.pin("churn/latest/model.pkl", etag=listed, target_for=content_key)

    assert [b.name for b in raw.list_blobs()] == ["models/churn/latest/model.pkl"]


def test_the_copy_is_refused_when_the_source_changed_after_it_was_hashed(
    azure_store, azurite_connection_string
):
    raw = raw_container(azurite_connection_string, azure_store)
    blob = raw.upload_blob("models/churn/latest/model.pkl", b"hashed bytes")
    hashed = blob.get_blob_properties().etag.strip('"')
    raw.upload_blob("models/churn/latest/model.pkl", b"newer bytes!", overwrite=True)
    digest = sha256_hex(b"hashed bytes")

    with pytest.raises(IntegrityMismatch, match="changed while it was being pinned"):
        azure_store._copy("churn/latest/model.pkl", content_key(digest), etag=hashed, sha256=digest, size=12)

    assert [b.name for b in raw.list_blobs()] == ["models/churn/latest/model.pkl"]


def test_a_read_at_the_registered_etag_refuses_a_rewritten_blob_before_any_byte(azure_store):
    first = put_bytes(azure_store, "m/model.bin", b"registered")
    azure_store.delete("m/model.bin")
    put_bytes(azure_store, "m/model.bin", b"other bytes")

    chunks = azure_store.open("m/model.bin", etag=first.etag)
    with pytest.raises(IntegrityMismatch, match="has changed or is gone"):
        next(chunks)


def test_a_blob_rewritten_during_a_chunked_read_stops_the_read(azure_store, azurite_connection_string):
    store = same_store(azure_store, azurite_connection_string, chunk_size=64 * KiB)
    original = os.urandom(256 * KiB)
    stored = put_bytes(store, "m/model.bin", original)
    raw = raw_container(azurite_connection_string, store).get_blob_client("models/m/model.bin")

    chunks = store.open("m/model.bin", etag=stored.etag)
    assert next(chunks) == original[: 64 * KiB]
    raw.upload_blob(os.urandom(256 * KiB), overwrite=True)  # "the latest model", mid-download

    with pytest.raises(IntegrityMismatch):
        list(chunks)


def test_it_names_a_blob_version_in_its_uri(azure_store):
    assert azure_store.uri("m/model.bin", version_id="2026-01-02T03:04:05.6789012Z").endswith(
        "/models/m/model.bin?versionid=2026-01-02T03%3A04%3A05.6789012Z"
    )
