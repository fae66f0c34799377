"""The embedded default deployment target: run the released image as a process on this host.

No container engine is needed. A deploy pulls the image *by digest* from the registry (which
verifies every blob), unpacks its layers into ``<state_dir>/images/<digest hex>/root`` once (a
rollback to an earlier image reuses it, with no pull), and runs the image's own command there
with the image's own environment, as the image contract of examples/churn-predictor describes.

Serving is done by a supervisor process per environment (see ``local_process``), not by the
worker that deploys: workers are short-lived, the environment's port must keep answering. The
supervisor owns a small TCP proxy on the environment's port and switches it from the old to
the new release's process only once the new one is healthy (blue/green, zero downtime). This
module writes the desired release into ``desired.json`` and reads the supervisor's
``state.json``, so any object on the same state directory - in any process - sees the same
environment. On disk::

    <state_dir>/desired.json        the release asked for (written here, under deploy.lock)
    <state_dir>/state.json          what runs and how the rollout went (written by the supervisor)
    <state_dir>/images/<hex>/       unpacked images: root/ and image.json (the image config)
    <state_dir>/releases/<id>.log   each release's stdout and stderr
    <state_dir>/supervisor.log      the supervisor's own output
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeGuard

from integrations.deploy.base import (
    FAILED,
    PROGRESSING,
    DeployRequest,
    Phase,
    RolloutStatus,
    RunningState,
    as_phase,
)
from integrations.deploy.local_process import (
    DESIRED_FILE,
    STATE_FILE,
    STOP_GRACE_SECONDS,
    SUPERVISOR_LOG,
    kill_leftovers,
    log_tail,
    read_json,
    supervisor_alive,
    write_json_atomic,
)
from integrations.errors import IntegrationError, NotFound, PermanentError, TemporaryError
from integrations.images import unpack_image
from integrations.localdirs import require_writable_dir
from integrations.registry import ImageConfig, Registry

SYSTEM = "local environment"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # what ``-m integrations...`` needs on sys.path
SUPERVISOR_COMMAND = [sys.executable, "-m", "integrations.deploy.local_process"]
SUPERVISOR_START_SECONDS = 10.0
WATCH_POLL_SECONDS = 0.1
# Interpreters an image names for its entrypoint. The image's Python lives in its base layers,
# which a locally built image does not carry (and a Linux container's binaries need not run on
# this host anyway); the app contract needs only the standard library, so the host's runs it.
PYTHON_RE = re.compile(r"^python(3(\.\d+)?)?$")


class LocalProcessTarget:
    kind = "local"

    def __init__(
        self,
        registry: Registry,
        state_dir: Path,
        port: int,
        *,
        host: str = "127.0.0.1",
        health_path: str = "/healthz",
        health_timeout: float = 60.0,
        python: str = sys.executable,
    ) -> None:
        """``port``: where the environment answers, on ``host``; each release's own process
        listens on a free loopback port behind it. ``health_path`` must answer 200 within
        ``health_timeout`` seconds before a release gets traffic. ``python`` runs images whose
        entrypoint is ``python``/``python3``."""
        self.registry = registry
        self.state_dir = Path(state_dir).absolute()
        self.port, self.host = port, host
        self.health_path, self.health_timeout = health_path, health_timeout
        self.python = python

    # ------------------------------------------------------------------ public interface
    def check(self) -> None:
        """The state directory is writable, the interpreter exists, and the port is ours or free."""
        require_writable_dir(self.state_dir, "state directory", system=SYSTEM)
        if not os.access(self.python, os.X_OK):
            raise PermanentError(f"the Python interpreter {self.python} is not executable", system=SYSTEM)
        if supervisor_alive(self.state_dir):
            self._check_same_address()
            return
        try:
            socket.create_server((self.host, self.port)).close()
        except OSError as exc:
            raise PermanentError(
                f"cannot serve on {self.host}:{self.port} ({exc}); another program uses that port, "
                "so give this environment another one",
                system=SYSTEM,
            ) from exc

    def current(self) -> RunningState | None:
        state = read_json(self.state_dir / STATE_FILE) or {}
        running = state.get("current")
        if not running:
            return None
        desired = read_json(self.state_dir / DESIRED_FILE) or {}
        return RunningState(
            image=running["image"],
            release_id=running["release_id"],
            model_version=running.get("model_version", ""),
            generation=int(desired.get("generation") or running.get("generation") or 0),
            desired_image=desired.get("image", ""),
            # One process serves; it is ready while its supervisor runs and reports no problem.
            ready_replicas=int(supervisor_alive(self.state_dir) and not state.get("problem")),
            replicas=1,
        )

    def deploy(self, req: DeployRequest) -> RolloutStatus:
        """Pull and unpack ``req.image``, then hand it to the supervisor and return.

        The pull happens here (the worker has the registry client); the start, health check
        and switch-over happen in the supervisor and are followed with ``status``/``watch``.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self._deploy_lock():
            desired = read_json(self.state_dir / DESIRED_FILE)
            if _same_release(desired, req) and desired.get("prepared"):
                self.start()  # brings the release back if the supervisor died
                return self.status()  # a resumed worker must not start a second rollout
            self._check_expected(req, desired)
            spec = self._new_spec(req, desired)
            self.start()  # fails fast when the port is taken; keeps the old release serving
            write_json_atomic(self.state_dir / DESIRED_FILE, spec)
            try:
                spec.update(
                    self._run_spec(*self._unpacked(spec["repository"], spec["digest"])), prepared=True
                )
            except IntegrationError as exc:
                spec["error"] = f"cannot prepare image {req.image}: {exc}"
                raise
            finally:
                write_json_atomic(self.state_dir / DESIRED_FILE, spec)
        return self.status()

    def status(self) -> RolloutStatus:
        desired = read_json(self.state_dir / DESIRED_FILE)
        if desired is None:
            raise NotFound(
                f"nothing has been deployed to the local environment in {self.state_dir}", system=SYSTEM
            )
        state = read_json(self.state_dir / STATE_FILE) or {}
        return self._status_of(desired, state, supervisor_alive(self.state_dir))

    def watch(self, on_change: Callable[[RolloutStatus], None], timeout: float) -> RolloutStatus:
        """Poll the state files (cheap local reads) until the rollout is done or ``timeout``."""
        deadline = time.monotonic() + timeout
        last: RolloutStatus | None = None
        while True:
            status = self.status()
            if status != last:
                on_change(status)
                last = status
            if status.done:
                return status
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = replace(status, phase=FAILED, message=f"timed out after {timeout:g}s")
                on_change(timed_out)
                return timed_out
            time.sleep(min(WATCH_POLL_SECONDS, remaining))

    def url(self) -> str | None:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> None:
        """Start the environment's supervisor unless it runs; it serves the recorded release."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if supervisor_alive(self.state_dir):
            self._check_same_address()
            return
        with open(self.state_dir / SUPERVISOR_LOG, "ab") as log:
            proc = subprocess.Popen(
                [
                    *SUPERVISOR_COMMAND,
                    "--state-dir",
                    str(self.state_dir),
                    "--host",
                    self.host,
                    "--port",
                    str(self.port),
                ],
                cwd=self.state_dir,
                env={
                    **os.environ,
                    "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]),
                },
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the worker that starts it, and its signals
            )
        self._wait_for_supervisor(proc)

    def stop(self, *, delete_files: bool = False, keep_release: bool = False) -> None:
        """Stop the supervisor and every process it started; forget the deployed release.

        With ``keep_release`` the release is remembered, so ``start()`` serves it again later
        (the dashboard's own processes stopping and starting). Unpacked images and logs stay
        unless ``delete_files`` (the environment is deleted).
        """
        if not self.state_dir.exists():
            return
        with self._deploy_lock():
            pid = ((read_json(self.state_dir / STATE_FILE) or {}).get("supervisor") or {}).get("pid")
            if pid and supervisor_alive(self.state_dir):
                self._end_supervisor(int(pid))
            kill_leftovers((read_json(self.state_dir / STATE_FILE) or {}).get("processes") or [])
            for name in (STATE_FILE,) if keep_release else (DESIRED_FILE, STATE_FILE):
                (self.state_dir / name).unlink(missing_ok=True)
        if delete_files:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    # ------------------------------------------------------------------ the supervisor
    def _wait_for_supervisor(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + SUPERVISOR_START_SECONDS
        while time.monotonic() < deadline:
            supervisor = (read_json(self.state_dir / STATE_FILE) or {}).get("supervisor") or {}
            if supervisor.get("pid") == proc.pid:
                return  # it listens on the port
            if proc.poll() is not None:
                if supervisor_alive(self.state_dir):
                    return  # another deploy started one at the same moment
                raise PermanentError(
                    f"cannot serve the environment on {self.host}:{self.port}: "
                    f"{log_tail(self.state_dir / SUPERVISOR_LOG, 2)}",
                    system=SYSTEM,
                )
            time.sleep(0.05)
        raise TemporaryError(
            f"the local supervisor did not start within {SUPERVISOR_START_SECONDS:g}s; "
            f"see {self.state_dir / SUPERVISOR_LOG}",
            system=SYSTEM,
        )

    def _end_supervisor(self, pid: int) -> None:
        """SIGTERM (it stops its releases gracefully), SIGKILL if that takes too long."""
        for sig, wait in ((signal.SIGTERM, STOP_GRACE_SECONDS + 5), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while supervisor_alive(self.state_dir) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not supervisor_alive(self.state_dir):
                break
        _reap(pid)

    def _check_same_address(self) -> None:
        supervisor = (read_json(self.state_dir / STATE_FILE) or {}).get("supervisor") or {}
        serving = (supervisor.get("host"), supervisor.get("port"))
        if supervisor and serving != (self.host, self.port):
            raise PermanentError(
                f"the local environment in {self.state_dir} already serves on {serving[0]}:{serving[1]}, "
                f"not {self.host}:{self.port}; stop it before moving it to another port",
                system=SYSTEM,
            )

    @contextlib.contextmanager
    def _deploy_lock(self) -> Iterator[None]:
        # Serialises deploys and stops on this environment, across processes.
        with open(self.state_dir / "deploy.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ deploy steps
    def _check_expected(self, req: DeployRequest, desired: dict[str, Any] | None) -> None:
        """Like the Kubernetes target's guard. After a failed rollout the old release still
        serves, while Kubernetes would keep the failed image in its spec; both are states the
        product itself produced, so either counts as expected."""
        if not req.expected_images:
            return
        running = ((read_json(self.state_dir / STATE_FILE) or {}).get("current") or {}).get("image")
        known = {running, (desired or {}).get("image")} - {None}
        if not known & set(req.expected_images):
            raise req.refusal(f"the local environment in {self.state_dir}", running, system=SYSTEM)

    def _new_spec(self, req: DeployRequest, desired: dict[str, Any] | None) -> dict[str, Any]:
        repository, digest = self._split(req.image)
        if _same_release(desired, req):
            generation = int(desired["generation"])  # resuming its own unfinished deploy
        else:
            observed = (read_json(self.state_dir / STATE_FILE) or {}).get("generation", 0)
            generation = max(int((desired or {}).get("generation", 0)), int(observed)) + 1
        return {
            "generation": generation,
            "release_id": req.release_id,
            "image": req.image,
            "repository": repository,
            "digest": digest,
            "model_name": req.model_name,
            "model_version": req.model_version,
            "change_cause": req.change_cause,
            "requested_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "prepared": False,
            "error": "",
        }

    def _split(self, image: str) -> tuple[str, str]:
        """(repository, digest) of ``image``, which is written as ``registry.reference`` writes
        it: a host prefix (``localhost/``, ``myacr.azurecr.io/``) is not part of the repository."""
        name, digest = image.rsplit("@", 1)
        parts = name.split("/")
        for i in range(len(parts)):
            candidate = "/".join(parts[i:])
            with contextlib.suppress(IntegrationError):
                if self.registry.reference(candidate, digest) == image:
                    return candidate, digest
        raise PermanentError(
            f"image {image!r} is not in the {self.registry.kind} registry this environment pulls from; "
            "deploy an image that was built into that registry",
            system=SYSTEM,
        )

    def _unpacked(self, repository: str, digest: str) -> tuple[Path, ImageConfig]:
        """The unpacked root and config of an image, pulled only the first time.

        An image directory appears by one rename once it is complete, so a half-finished pull
        (a worker killed mid-way) is never mistaken for a cached one.
        """
        images = self.state_dir / "images"
        final = images / digest.split(":", 1)[1]
        if not final.is_dir():
            images.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(dir=images, prefix=".pull-"))
            try:
                pulled = self.registry.pull(repository, digest, work / "blobs")
                unpack_image(pulled.layer_paths, work / "root")
                write_json_atomic(work / "image.json", _config_doc(pulled.config))
                shutil.rmtree(work / "blobs")  # the registry keeps them; the root is what runs
                with contextlib.suppress(OSError):  # a concurrent pull of the same image won
                    work.rename(final)
            finally:
                shutil.rmtree(work, ignore_errors=True)
        doc = read_json(final / "image.json") or {}
        config = ImageConfig(
            labels=doc.get("labels", {}),
            entrypoint=doc.get("entrypoint", []),
            cmd=doc.get("cmd", []),
            workdir=doc.get("workdir", ""),
            env=doc.get("env", {}),
            exposed_ports=doc.get("exposed_ports", []),
            created=None,
        )
        return final / "root", config

    def _run_spec(self, root: Path, config: ImageConfig) -> dict[str, Any]:
        """Exactly how the supervisor starts the image: its command, directory and environment."""
        argv = [*config.entrypoint, *config.cmd]
        if not argv:
            raise PermanentError("the image has neither Entrypoint nor Cmd: nothing to run", system=SYSTEM)
        if PYTHON_RE.match(Path(argv[0]).name):
            argv[0] = self.python  # see PYTHON_RE
        elif argv[0].startswith("/") and (root / argv[0].lstrip("/")).exists():
            argv[0] = str(root / argv[0].lstrip("/"))  # a program shipped inside the image
        cwd = root / config.workdir.lstrip("/")
        if not cwd.is_dir():
            raise PermanentError(
                f"the image's WorkingDir {config.workdir!r} is not in the image", system=SYSTEM
            )
        env = {
            **config.env,
            "IMAGE_ROOT": str(root),  # absolute paths in the image's Env resolve below the root
            "HOST": "127.0.0.1",  # only the proxy needs to reach a release's own port
            "PATH": os.environ.get("PATH", os.defpath),  # the image's PATH names its own directories
        }
        return {
            "root": str(root),
            "argv": argv,
            "cwd": str(cwd),
            "env": env,
            "health_path": self.health_path,
            "health_timeout": self.health_timeout,
        }

    # ------------------------------------------------------------------ status
    def _status_of(self, desired: dict[str, Any], state: dict[str, Any], alive: bool) -> RolloutStatus:
        generation, observed = int(desired["generation"]), int(state.get("generation", 0))
        running, candidate = state.get("current") or {}, state.get("candidate") or {}
        serving = bool(running) and alive and not state.get("problem")
        new_running = serving and running.get("generation") == generation
        new_starting = alive and candidate.get("generation") == generation
        phase, message = self._phase(desired, state, alive, observed)
        return RolloutStatus(
            phase=phase,
            message=message,
            observed_generation=observed,
            generation=generation,
            replicas=int(serving) + int(bool(candidate) and alive),
            updated_replicas=int(new_running or new_starting),
            ready_replicas=int(new_running),
            available_replicas=int(new_running),
            pod_problems=[state["problem"]] if state.get("problem") else [],
            image=desired["image"],
            release_id=desired["release_id"],
        )

    def _phase(
        self, desired: dict[str, Any], state: dict[str, Any], alive: bool, observed: int
    ) -> tuple[Phase, str]:
        rid = desired["release_id"]
        if desired.get("error"):
            return FAILED, desired["error"]
        if not desired.get("prepared"):
            return PROGRESSING, f"pulling image {desired['image']}"
        if not alive:
            tail = log_tail(self.state_dir / SUPERVISOR_LOG, 2)
            return FAILED, (
                f"nothing serves {self.host}:{self.port}: the environment's supervisor is not running"
                f"{f' ({tail})' if tail else ''}; deploy release {rid} again to bring it back"
            )
        if observed < int(desired["generation"]):
            return PROGRESSING, f"starting release {rid}"
        if state.get("phase") != FAILED and state.get("problem"):
            return PROGRESSING, state["problem"]
        return as_phase(state.get("phase", PROGRESSING)), state.get("message", "")


def _same_release(desired: dict[str, Any] | None, req: DeployRequest) -> TypeGuard[dict[str, Any]]:
    if not desired:
        return False
    return desired["release_id"] == req.release_id and desired["image"] == req.image


def _config_doc(config: ImageConfig) -> dict[str, Any]:
    return {
        "entrypoint": config.entrypoint,
        "cmd": config.cmd,
        "workdir": config.workdir,
        "env": config.env,
        "labels": config.labels,
        "exposed_ports": config.exposed_ports,
    }


def _reap(pid: int) -> None:
    """Collect the exit status of a supervisor this process started, so no zombie stays behind."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:
            return  # started by another process, which reaps it
        time.sleep(0.02)
