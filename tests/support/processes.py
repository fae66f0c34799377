"""Real worker and scheduler processes for tests, on the test database and the test Redis.

Tests that kill workers run the product's own commands (``manage.py rqworker``, ``manage.py
runscheduler``) in other processes: they see the test database because it is PostgreSQL or a
SQLite file (see ``TEST`` in the settings), and the queues because they get the same Redis URL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from core import crypto

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.1)


class Processes:
    """Starts product processes with the test's database, Redis and settings; stops them all."""

    def __init__(self, tmp_path: Path, redis_url: str) -> None:
        self.started: list[subprocess.Popen[bytes]] = []
        self.names: dict[int, str] = {}
        self.logs = tmp_path / "process-logs"
        self.logs.mkdir(exist_ok=True)
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_url,
            "VAR_DIR": str(tmp_path / "process-var"),
            # Every process must read what the others encrypted (webhook secrets, ...).
            "FIELD_ENCRYPTION_KEY": crypto.configured_keys(),
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        return self.run(name, [sys.executable, "manage.py", *args], **env)

    def run(self, name: str, argv: list[str], **env: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**self.env, **env},
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.started.append(process)
        self.names[process.pid] = name
        return process

    def worker(self, *queues: str, **env: str) -> subprocess.Popen[bytes]:
        return self.start(f"worker-{len(self.started)}", "rqworker", *queues, **env)

    def scheduler(self, **env: str) -> subprocess.Popen[bytes]:
        return self.start(f"scheduler-{len(self.started)}", "runscheduler", **env)

    def web(self, port: int, **env: str) -> subprocess.Popen[bytes]:
        """gunicorn as ``manage.py runstack`` starts it (one worker process), on ``port``."""
        from django.test import override_settings

        from overview.management.commands.runstack import processes

        with override_settings(HOST="127.0.0.1", PORT=port, WEB_CONCURRENCY=1):
            argv = processes()["web"]
        return self.run(f"web-{len(self.started)}", argv, **env)

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        """What one started process wrote (stdout and stderr)."""
        name = self.names[process.pid]
        return (self.logs / f"{name}.log").read_text()

    def log(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.logs.iterdir()))

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


def kill_with_work_horse(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and the work horse it forked (which runs in a session of its own)."""
    import psutil

    horses = psutil.Process(worker.pid).children(recursive=True)
    for process in [*horses, psutil.Process(worker.pid)]:
        with contextlib.suppress(psutil.NoSuchProcess):  # a work horse that just finished its job
            process.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    psutil.wait_procs(horses, timeout=10)


@pytest.fixture
def real_queues() -> Iterator[str]:
    """Queues that really go through Redis (tests otherwise run jobs in-process)."""
    for queue in settings.RQ_QUEUES.values():
        queue["ASYNC"] = True
    yield settings.RQ_QUEUES["deploys"]["URL"]
    for queue in settings.RQ_QUEUES.values():
        queue["ASYNC"] = False


@pytest.fixture
def processes(tmp_path: Path, real_queues: str) -> Iterator[Processes]:
    started = Processes(tmp_path, real_queues)
    yield started
    started.stop_all()
