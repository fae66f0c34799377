"""A small process supervisor for ``manage.py runstack`` (what ``make run`` starts).

It starts each process in a session of its own, prefixes its output with the process's name,
restarts a process that exits (with a growing pause, so a broken one does not spin), and stops
the whole stack with a clear message when one keeps dying. Ctrl-C or SIGTERM stops everything:
SIGTERM to each process group, SIGKILL to what is left after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import IO

POLL_SECONDS = 0.2
STOP_GRACE_SECONDS = 10.0
MAX_PAUSE_SECONDS = 30.0
# A process that dies this many times within CRASH_WINDOW_SECONDS is not worth restarting.
MAX_CRASHES = 5
CRASH_WINDOW_SECONDS = 120.0


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    crashes: list[float] = field(default_factory=list)
    restart_at: float | None = None


def describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with status {code}"


class Supervisor:
    def __init__(
        self,
        processes: dict[str, list[str]],
        *,
        env: dict[str, str],
        cwd: str,
        out: IO[str],
        first_pause: float = 1.0,
        max_crashes: int = MAX_CRASHES,
    ) -> None:
        self.children = [Child(name, argv) for name, argv in processes.items()]
        self.first_pause, self.max_crashes = first_pause, max_crashes
        self.env, self.cwd, self.out = env, cwd, out
        self.width = max(len(name) for name in processes)
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def say(self, name: str, line: str) -> None:
        with self.lock:
            self.out.write(f"{name:<{self.width}} | {line}\n")
            self.out.flush()

    def run(self) -> int:
        """Start everything and supervise until stopped (0) or a process keeps dying (1)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stopping.set())
        for child in self.children:
            self._start(child)
        status = 0
        while not self.stopping.wait(POLL_SECONDS):
            if not self._check_children():
                status = 1
                break
        self._stop_all()
        return status

    def _check_children(self) -> bool:
        now = time.monotonic()
        for child in self.children:
            if child.proc is None:
                if child.restart_at is not None and now >= child.restart_at:
                    self._start(child)
                continue
            code = child.proc.poll()
            if code is None:
                continue
            child.proc = None
            child.crashes = [t for t in child.crashes if now - t < CRASH_WINDOW_SECONDS] + [now]
            if len(child.crashes) >= self.max_crashes:
                self.say(
                    child.name,
                    f"{describe_exit(code)}: it stopped {len(child.crashes)} times within "
                    f"{CRASH_WINDOW_SECONDS:g}s, so the whole stack stops. Read its output above.",
                )
                return False
            pause = min(MAX_PAUSE_SECONDS, self.first_pause * 2 ** (len(child.crashes) - 1))
            self.say(child.name, f"{describe_exit(code)}; restarting it in {pause:g}s")
            child.restart_at = now + pause
        return True

    def _start(self, child: Child) -> None:
        child.restart_at = None
        child.proc = subprocess.Popen(
            child.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stopped as a whole, with its forked children
        )
        self.say(child.name, f"started (pid {child.proc.pid})")
        threading.Thread(target=self._relay, args=(child.name, child.proc), daemon=True).start()

    def _relay(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            self.say(name, raw.decode(errors="replace").rstrip())

    def _stop_all(self) -> None:
        running = [c.proc for c in self.children if c.proc is not None and c.proc.poll() is None]
        for proc in running:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for proc in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in running:
            _signal_group(proc, signal.SIGKILL)  # the process and anything it left behind
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
