"""Shared test helpers: puts the app on sys.path, runs servers, makes HTTP calls.

Test modules import the app's modules from here, so ``python3 -m unittest discover -s tests``
works from any directory.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

APP_DIR = Path(__file__).resolve().parents[1]
SAMPLE_MODEL = APP_DIR / "models" / "churn-model.json"
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

import scoring  # noqa: E402
import serve  # noqa: E402
import train  # noqa: E402

__all__ = ["APP_DIR", "SAMPLE_MODEL", "scoring", "serve", "train"]

CUSTOMER = {
    "tenure_months": 3,
    "monthly_charges": 99.5,
    "support_calls": 4,
    "contract_months": 1,
    "autopay": False,
    "data_usage_gb": 2.5,
}


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One HTTP call to 127.0.0.1:port; returns (status, headers, decoded JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        sent_headers = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=data, headers=sent_headers)
        response = conn.getresponse()
        payload = response.read()
        return response.status, dict(response.getheaders()), json.loads(payload) if payload else None
    finally:
        conn.close()


@contextlib.contextmanager
def running_server(settings: Any, *, load: bool = True) -> Iterator[Any]:
    """A PredictionServer on a free port in a background thread, stopped on exit."""
    server = serve.PredictionServer(settings)
    if load:
        serve.load_model_into(server)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def settings(model_path: Path = SAMPLE_MODEL, **overrides: Any) -> Any:
    return serve.Settings(model_path=model_path, host="127.0.0.1", port=0, **overrides)


class ServeProcess:
    """serve.py run as the image runs it: a separate interpreter configured by environment."""

    def __init__(self, script: Path, env: Mapping[str, str], cwd: Path | None = None) -> None:
        full_env = {k: v for k, v in os.environ.items() if k not in ("MODEL_PATH", "IMAGE_ROOT", "PORT")}
        full_env.update({"HOST": "127.0.0.1", "PORT": "0", **env})
        self.proc = subprocess.Popen(
            [sys.executable, str(script)],
            env=full_env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)

    def wait_for_line(self, pattern: str, timeout: float = 10) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.log.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        raise AssertionError(f"no log line matching {pattern!r}; got:\n{''.join(self.log)}")

    def port(self) -> int:
        return int(self.wait_for_line(r"listening on \S+:(\d+)").group(1))

    def wait_ready(self, port: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if request(port, "GET", "/healthz")[0] == 200:
                return
            time.sleep(0.05)
        raise AssertionError("the server never became ready")

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=10)

    def wait(self, timeout: float = 10) -> int:
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self._pump_thread.join(timeout=5)  # stderr reaches EOF once the process is gone
        if self.proc.stderr:
            self.proc.stderr.close()


# Failures are asserted through the API; keep the in-process servers' log lines out of test output.
logging.getLogger(serve.APP_NAME).addHandler(logging.NullHandler())
