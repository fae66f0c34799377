"""The supervisor of a local environment: one long-lived process per state directory.

Workers come and go (a job deploys, then exits), but the application has to keep answering on
the environment's port between and during deploys. So the process that serves is not a worker
but this small supervisor, started detached (own session) by the first deploy::

    python -m integrations.deploy.local_process --state-dir DIR --host 127.0.0.1 --port 8080

It owns three things:

* the environment's port, through a tiny TCP proxy (one thread per connection) that forwards
  each new connection to the current backend. Switching releases only changes the backend
  port the next connection goes to, so the port never stops answering (zero-downtime
  blue/green). Restarting the app on the same port could not do that: the old process has to
  let go of the port before the new one can bind it, and the new one then loads its model.
* the application processes, each in its own process group, on a fresh loopback port.
* ``state.json``: what runs (release, image, pid, backend port), the rollout's phase, and the
  pids of everything it started, written atomically. It is the only writer of that file.

Commands arrive declaratively, like a Deployment spec: ``LocalProcessTarget.deploy`` writes
``desired.json`` (the release, its unpacked image and the exact command) with a higher
generation, and the supervisor, polling it, rolls it out: start, health-check on its own port,
switch, stop the old process. A supervisor that is restarted (after a crash or a reboot) starts
the recorded current release again and then picks up whatever is desired. ``supervisor.lock``
(an flock held for the supervisor's lifetime) guarantees one supervisor per state directory and
tells anyone whether it is alive; the kernel releases it when the process dies, however it dies.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import http.client
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from integrations.atomic import write_atomic

STATE_FILE = "state.json"
DESIRED_FILE = "desired.json"
LOCK_FILE = "supervisor.lock"
SUPERVISOR_LOG = "supervisor.log"

POLL_SECONDS = 0.05  # how often desired.json and the children are looked at
HEALTH_POLL_SECONDS = 0.1
# After the switch, connections the proxy already opened to the old backend are still being
# answered; the old process gets this long before SIGTERM (like endpoint propagation in Kubernetes).
DRAIN_SECONDS = 1.0
STOP_GRACE_SECONDS = 10.0  # SIGTERM, then SIGKILL after this long
LOCK_WAIT_SECONDS = 2.0
MAX_RESTART_BACKOFF = 30.0
BACKEND_HOST = "127.0.0.1"  # backends are only reachable through the proxy
LOG_TAIL_LINES = 5


# ---------------------------------------------------------------------- shared with local.py
def write_json_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Readers in other processes see the old or the new document, never half of one."""
    write_atomic(path, json.dumps(doc, indent=1).encode(), prefix=f".{path.name}-")


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def supervisor_alive(state_dir: Path) -> bool:
    """True while a supervisor holds the lock of ``state_dir``."""
    try:
        fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops our lock, if we got it
    return False


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log, read from its end (logs grow without bound)."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            text = f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    return " | ".join([ln for ln in text.splitlines() if ln.strip()][-lines:])


def process_matches(pid: int, cwd: str) -> bool:
    """Whether ``pid`` is still the process we started (same working directory), not a reused pid."""
    try:
        return os.readlink(f"/proc/{pid}/cwd") == cwd
    except OSError:
        return False


def kill_leftovers(processes: list[dict[str, Any]]) -> None:
    """SIGKILL the process groups a dead supervisor left behind (nobody can drain them anyway)."""
    for proc in processes:
        if process_matches(int(proc["pid"]), proc["cwd"]):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(proc["pid"]), signal.SIGKILL)


# ---------------------------------------------------------------------- the proxy
class Proxy:
    """Forwards every connection on ``host:port`` to the backend current when it arrived."""

    def __init__(self, host: str, port: int) -> None:
        self._listener = socket.create_server((host, port), backlog=128)  # SO_REUSEADDR on POSIX
        self._listener.settimeout(0.25)  # so the accept loop notices close()
        self._backend: int | None = None
        self._closed = threading.Event()

    def switch(self, port: int | None) -> None:
        self._backend = port  # one reference assignment: atomic for the accept loop

    def serve_forever(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._forward, args=(client,), daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()

    def _connect(self) -> socket.socket | None:
        # A refused connection is retried briefly: during a crash restart the backend is gone
        # for a moment, and after a switch the next attempt goes to the new backend.
        for _ in range(20):
            port = self._backend
            if port is not None:
                try:
                    backend = socket.create_connection((BACKEND_HOST, port), timeout=5)
                    backend.settimeout(None)
                    return backend
                except OSError:
                    pass
            time.sleep(0.05)
        return None

    def _forward(self, client: socket.socket) -> None:
        with client:
            client.settimeout(None)
            backend = self._connect()
            if backend is None:
                # The applications speak HTTP, so say why in HTTP rather than just hang up.
                body = b"no release of this environment is running\n"
                head = f"HTTP/1.0 503 Service Unavailable\r\nContent-Length: {len(body)}\r\n\r\n"
                with contextlib.suppress(OSError):
                    client.sendall(head.encode() + body)
                return
            with backend:
                _pump(client, backend)


def _pump(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until both sides have finished; pass half-closes on."""
    peers = {a: b, b: a}
    with selectors.DefaultSelector() as sel:
        for s in peers:
            sel.register(s, selectors.EVENT_READ)
        open_sides = 2
        while open_sides:
            for key, _ in sel.select():
                src: socket.socket = key.fileobj  # type: ignore[assignment]  # only sockets are registered
                try:
                    data = src.recv(65536)
                    if data:
                        peers[src].sendall(data)
                        continue
                    peers[src].shutdown(socket.SHUT_WR)
                except OSError:
                    return  # a reset on either side ends the connection
                sel.unregister(src)
                open_sides -= 1


# ---------------------------------------------------------------------- the supervisor
class Supervisor:
    def __init__(self, state_dir: Path, host: str, port: int) -> None:
        self.state_dir, self.host, self.port = state_dir, host, port
        self.stopping = threading.Event()
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.cwds: dict[int, str] = {}  # recorded so a later supervisor can tell its pids from reused ones
        self.serving: dict[str, Any] | None = None  # the live process the proxy forwards to
        self.restart_at = 0.0
        self.restarts = 0
        self.state: dict[str, Any] = read_json(state_dir / STATE_FILE) or {}
        self.proxy: Proxy | None = None

    def save(self, **changes: Any) -> None:
        for key in ("message", "problem"):  # the supervisor's log tells the environment's story
            if changes.get(key) and changes[key] != self.state.get(key):
                print(f"{_now()} {changes[key]}", file=sys.stderr, flush=True)
        self.state.update(changes)
        self.state["processes"] = [{"pid": pid, "cwd": cwd} for pid, cwd in self.cwds.items()]
        write_json_atomic(self.state_dir / STATE_FILE, self.state)

    # -- life cycle ------------------------------------------------------
    def run(self) -> int:
        kill_leftovers(self.state.get("processes") or [])
        self.cwds.clear()
        try:
            self.proxy = Proxy(self.host, self.port)
        except OSError as exc:
            print(f"cannot listen on {self.host}:{self.port}: {exc}", file=sys.stderr, flush=True)
            return 2
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        supervisor = {"pid": os.getpid(), "host": self.host, "port": self.port, "started_at": _now()}
        self.save(supervisor=supervisor, candidate=None)
        threading.Thread(target=self.proxy.serve_forever, name="proxy", daemon=True).start()
        while not self.stopping.is_set():
            self.tick()
            self.stopping.wait(POLL_SECONDS)
        self.shutdown()
        return 0

    def tick(self) -> None:
        desired = read_json(self.state_dir / DESIRED_FILE)
        if desired and desired.get("prepared") and desired["generation"] > self.state.get("generation", 0):
            self.roll_out(desired)
            return
        live = self.serving
        if live is not None and self.children[live["pid"]].poll() is not None:
            code = self.children[live["pid"]].returncode
            self.forget(live["pid"])
            self.serving, self.restart_at = None, time.monotonic()
            self.save(problem=f"release {live['release_id']} (pid {live['pid']}) exited with code {code}")
        # "current" is what should serve: after a crash, or when this supervisor was (re)started.
        wanted = self.state.get("current")
        if self.serving is None and wanted and time.monotonic() >= self.restart_at:
            self.restart(wanted)

    def shutdown(self) -> None:
        if self.proxy is not None:
            self.proxy.close()
        for pid in list(self.children):
            self.stop_child(pid)
        self.save(supervisor=None, candidate=None)

    # -- rollouts --------------------------------------------------------
    def roll_out(self, spec: dict[str, Any]) -> None:
        rid = spec["release_id"]
        message = f"starting release {rid}"
        self.save(
            generation=spec["generation"],
            release_id=rid,
            image=spec["image"],
            phase="progressing",
            message=message,
        )
        started = self.start_healthy(spec, "message", "waiting for health of")
        if isinstance(started, str):
            self.save(phase="failed", message=started)
            return
        message = f"switched over to release {rid} (pid {started['pid']}, port {started['port']})"
        self.switch_to(started, _summary(self.state.get("current")), phase="succeeded", message=message)

    def restart(self, spec: dict[str, Any]) -> None:
        self.restarts += 1
        started = self.start_healthy(spec, "problem", "restarting")
        if isinstance(started, str):
            backoff = min(2.0 ** min(self.restarts, 10), MAX_RESTART_BACKOFF)
            self.restart_at = time.monotonic() + backoff
            self.save(problem=f"{started}; trying again in {backoff:g}s")
            return
        self.restarts = 0
        self.switch_to(started, self.state.get("previous"))

    def switch_to(self, started: dict[str, Any], previous: dict[str, Any] | None, **changes: Any) -> None:
        """Point the proxy at ``started``, record it, then drain and stop the old process."""
        assert self.proxy is not None
        old, self.serving = self.serving, started
        self.proxy.switch(started["port"])
        self.save(current=started, candidate=None, problem="", previous=previous, **changes)
        if old is not None:
            self.stopping.wait(DRAIN_SECONDS)
            self.stop_child(old["pid"])
            self.save()

    def start_healthy(self, spec: dict[str, Any], report_in: str, doing: str) -> dict[str, Any] | str:
        """Start ``spec`` on a fresh port and wait until it answers health checks; the started
        process (spec plus pid, port, log) or the reason it did not become healthy.

        ``report_in``: "message" for a rollout; "problem" for a restart, which must not overwrite
        how the last rollout ended."""
        rid, log = spec["release_id"], self.state_dir / "releases" / f"{_safe(spec['release_id'])}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        try:
            with open(log, "ab") as out:
                proc = subprocess.Popen(
                    spec["argv"],
                    cwd=spec["cwd"],
                    env={**spec["env"], "PORT": str(port)},
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    process_group=0,  # its own group: SIGTERM/SIGKILL reach anything it spawns
                )
        except OSError as exc:
            return f"release {rid}: cannot start {spec['argv'][0]!r} in {spec['cwd']}: {exc}"
        self.children[proc.pid], self.cwds[proc.pid] = proc, os.path.realpath(spec["cwd"])
        started = {**spec, "pid": proc.pid, "port": port, "log": str(log), "started_at": _now()}
        self.save(candidate=started, **{report_in: f"{doing} release {rid} (pid {proc.pid}, port {port})"})
        reason = self.wait_healthy(proc, port, spec)
        if reason is None:
            return started
        self.stop_child(proc.pid, grace=0)
        self.save(candidate=None)
        return f"release {rid} {reason}: {log_tail(log) or '(no output)'}"

    def wait_healthy(self, proc: subprocess.Popen[bytes], port: int, spec: dict[str, Any]) -> str | None:
        timeout = float(spec["health_timeout"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return f"exited with code {proc.returncode} before it became healthy"
            if _healthy(port, spec["health_path"]):
                return None
            if self.stopping.wait(HEALTH_POLL_SECONDS):
                return "was stopped with the environment before it became healthy"
        return f"was not healthy after {timeout:g}s ({spec['health_path']} never answered 200)"

    def stop_child(self, pid: int, grace: float = STOP_GRACE_SECONDS) -> None:
        proc = self.children.get(pid)
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM if grace else signal.SIGKILL)
        try:
            proc.wait(timeout=grace or 5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # whatever it spawned and left behind in its group
        self.forget(pid)

    def forget(self, pid: int) -> None:
        self.children.pop(pid, None)
        self.cwds.pop(pid, None)


def _summary(proc: dict[str, Any] | None) -> dict[str, Any] | None:
    if not proc:
        return None
    keys = ("release_id", "image", "model_name", "model_version", "generation")
    return {k: proc.get(k) for k in keys}


def _healthy(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection(BACKEND_HOST, port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _free_port() -> int:
    # The port is released before the app binds it; another program could take it in between,
    # and the release then fails with the app's own "cannot listen" message.
    with socket.socket() as s:
        s.bind((BACKEND_HOST, 0))
        return s.getsockname()[1]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@contextlib.contextmanager
def _lifetime_lock(state_dir: Path) -> Iterator[bool]:
    """Hold ``supervisor.lock`` while the supervisor lives; yield False if another one has it.

    Waits a little: someone checking ``supervisor_alive`` holds the lock for a moment too.
    """
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    yield False
                    return
                time.sleep(0.02)
        yield True
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve one local environment (see module docstring).")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    with _lifetime_lock(args.state_dir) as mine:
        if not mine:
            print("another supervisor serves this state directory", file=sys.stderr, flush=True)
            return 0
        return Supervisor(args.state_dir, args.host, args.port).run()


if __name__ == "__main__":
    sys.exit(main())
