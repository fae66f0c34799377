"""Start the CNCF distribution registry (Debian's ``docker-registry``) on a free local port.

Used by the test fixtures and by ``bench/registry_sync.py``: no auth, relative URLs, deletes
enabled, storage in a folder of the caller's.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path

import requests

CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  relativeurls: true
  secret: local-only-upload-state-secret
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(requests.ConnectionError):
            if requests.get(f"{url}/v2/", timeout=1).status_code == 200:
                return True
        time.sleep(0.05)
    return False


def start(binary: str, work: Path, *, new_session: bool = False) -> tuple[str, subprocess.Popen[bytes]]:
    """Start it and wait until /v2/ answers; a port taken in the meantime gets a few retries."""
    for attempt in range(3):
        port = free_port()
        config = work / f"registry-{attempt}.yml"
        config.write_text(CONFIG.format(root=work / "registry-storage", port=port))
        with (work / f"registry-{attempt}.log").open("wb") as log:
            process = subprocess.Popen(
                [binary, "serve", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=new_session,
            )
        url = f"http://127.0.0.1:{port}"
        if wait_until_ready(url, process):
            return url, process
        process.terminate()
        process.wait(5)
    raise RuntimeError(f"docker-registry did not start:\n{(work / 'registry-2.log').read_text()[-2000:]}")
