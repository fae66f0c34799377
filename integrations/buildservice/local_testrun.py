"""Running an application's test command for the local builder, streaming its output.

The command runs through ``/bin/sh -c`` in its own process group, so cancelling or timing out
stops everything it started (test servers, workers), not just the shell.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from integrations.errors import Cancelled, PermanentError

SYSTEM = "local build"
POLL_SECONDS = 0.2  # how often a silent test run is checked for cancellation and timeout
STOP_GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL
LEFTOVER_GRACE_SECONDS = 2.0  # output still accepted after the command itself exited
MAX_LINE = 8192


def minimal_environment(home: Path, tmp: Path) -> dict[str, str]:
    """A minimal environment: the server's secrets and settings are not the tests' business."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "CI": "true",
        "PYTHONUNBUFFERED": "1",  # lines arrive as they are printed, not at exit
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _pump(stream: IO[bytes], lines: queue.Queue[bytes | None]) -> None:
    for line in iter(lambda: stream.readline(MAX_LINE), b""):
        lines.put(line)
    lines.put(None)


def _has_exited(pid: int) -> bool:
    # WNOWAIT leaves the child unreaped, so its pid (= the group id) cannot be reused while we
    # may still signal the group.
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is already gone
        os.killpg(pid, sig)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while not _has_exited(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    _signal_group(proc.pid, signal.SIGKILL)


def _follow(
    proc: subprocess.Popen[bytes],
    lines: queue.Queue[bytes | None],
    log: Callable[[str], None],
    cancelled: Callable[[], bool],
    deadline: float,
    timeout: float,
) -> None:
    """Log output until the command is done; stop it on cancellation or timeout."""
    exited_at: float | None = None
    while True:
        try:
            line = lines.get(timeout=POLL_SECONDS)
        except queue.Empty:
            line = b""
        if line is None:
            return
        if line:
            log(line.decode("utf-8", "replace").rstrip("\r\n"))
        if cancelled():
            _stop(proc)
            raise Cancelled("the build was cancelled while the tests were running", system=SYSTEM)
        if time.monotonic() > deadline:
            _stop(proc)
            raise PermanentError(
                f"tests did not finish within {timeout:.0f} s and were stopped", system=SYSTEM
            )
        if exited_at is None and _has_exited(proc.pid):
            exited_at = time.monotonic()
        if exited_at is not None and time.monotonic() - exited_at > LEFTOVER_GRACE_SECONDS:
            return  # a background process still holds the output open; it is killed below


def run_test_command(
    command: str,
    cwd: Path,
    *,
    env: dict[str, str],
    timeout: float,
    log: Callable[[str], None],
    cancelled: Callable[[], bool],
) -> None:
    """Run ``command``; raise ``PermanentError`` unless it exits 0, ``Cancelled`` if cancelled."""
    proc = subprocess.Popen(
        ["/bin/sh", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    lines: queue.Queue[bytes | None] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
    reader.start()
    try:
        _follow(proc, lines, log, cancelled, time.monotonic() + timeout, timeout)
    finally:
        _signal_group(proc.pid, signal.SIGKILL)  # whatever the tests left running
        code = proc.wait()
        reader.join(timeout=5)
        proc.stdout.close()
    if code != 0:
        raise PermanentError(f"tests failed (exit {code})", system=SYSTEM)
