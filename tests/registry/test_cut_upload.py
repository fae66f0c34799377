"""An upload cut off midway leaves no version, no stored object and no temporary file."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from core import tokens
from models_registry import services
from models_registry.models import ModelVersion

BOUNDARY = "----cut-upload-boundary"


def multipart_head(filename: str) -> bytes:
    return (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


def send_cut_request(url: str, token: str, path: str, declared: int, body: bytes) -> bytes:
    target = urlparse(url)
    with socket.create_connection((target.hostname, target.port), timeout=10) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {target.netloc}\r\nAuthorization: Token {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {declared}\r\n"
            "Connection: close\r\n\r\n"
        )
        sock.sendall(head.encode() + body)
        sock.shutdown(socket.SHUT_WR)  # the client goes away before the body is complete
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.django_db(transaction=True)
def test_a_cut_off_upload_leaves_nothing_behind(live_server, scientist, model_store_root, settings):
    services.create_model("churn", actor=scientist)
    _, token = tokens.issue(scientist, name="test", actor=scientist)
    payload = b"m" * (3 * 1024 * 1024)
    full = multipart_head("model.bin") + payload + f"\r\n--{BOUNDARY}--\r\n".encode()
    cut = full[: len(full) // 2]
    temp_dir = Path(settings.FILE_UPLOAD_TEMP_DIR)
    temp_before = set(temp_dir.iterdir())
    answer = send_cut_request(live_server.url, token, "/api/v1/models/churn/versions/", len(full), cut)
    time.sleep(0.5)
    status_line = answer.split(b"\r\n", 1)[0]
    assert b" 201 " not in status_line and b" 200 " not in status_line, status_line
    assert b" 500 " not in status_line, answer[:500]
    assert not ModelVersion.objects.exists()
    assert not [p for p in model_store_root.rglob("*") if p.is_file()]
    assert set(temp_dir.iterdir()) == temp_before
