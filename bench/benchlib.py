"""What the benchmarks in this folder share: a throwaway stack and a clean way out.

Each benchmark runs in a temporary directory of its own, with an environment cut loose from the
developer's (never their ``var/``, database or Redis), an optional PostgreSQL database of its own
that it creates and drops, an embedded Redis, and processes started with ``manage.py runstack``'s
own command lines. ``run_cleaned_up`` removes all of it at the end, also on Ctrl-C or SIGTERM.

Only the standard library is imported here, so that a script can import this module before it
puts the repository root on ``sys.path`` (see ``use_repo_imports``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# Variables that would point the dashboard at the developer's own data or services.
INHERITED_TO_DROP = (
    "DATABASE_URL", "REDIS_URL", "VAR_DIR", "MODEL_STORE", "MODEL_STORE_PATH", "DEBUG", "SECRET_KEY",
)  # fmt: skip


def use_repo_imports() -> Path:
    """Take bench/ off ``sys.path`` and put the repository root first; returns the root.

    bench/ holds models_registry.py (a benchmark named like the app): without this,
    ``import models_registry`` would find that script instead of the app.
    """
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
    sys.path.insert(0, str(REPO))
    return REPO


# --- Running with cleanups -------------------------------------------------------------------


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_cleaned_up(
    body: Callable[[Path, contextlib.ExitStack], None], *, prefix: str, tmp_dir: str | None = None
) -> int:
    """Run ``body(workdir, cleanups)`` in a fresh temporary directory; the exit status.

    Whatever ``body`` registers on ``cleanups`` runs at the end (then the directory goes), also
    on Ctrl-C or SIGTERM (exit status 130).
    """
    # SIGTERM takes the same way out as Ctrl-C, so the cleanups below always run.
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix=prefix, dir=tmp_dir))
    with contextlib.ExitStack() as cleanups:
        cleanups.callback(shutil.rmtree, workdir, ignore_errors=True)
        try:
            body(workdir, cleanups)
        except KeyboardInterrupt:
            print("\nInterrupted; cleaning up.", file=sys.stderr)
            return 130
        finally:
            # A second Ctrl-C must not cut the cleanup short and leave processes or files.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return 0


# --- Environment, database, Django, Redis ----------------------------------------------------


def free_port() -> int:
    """A TCP port on the loopback interface that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_database(url: str, name: str) -> str:
    """The database URL ``url`` with its database name replaced by ``name``."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def recreate_pg_database(server_url: str, name: str, *, drop_only: bool = False) -> None:
    """(Re)create the benchmark's own database on the server; never touches other databases."""
    import psycopg

    with psycopg.connect(with_database(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def own_pg_database(server_url: str | None, name: str, cleanups: contextlib.ExitStack) -> str | None:
    """With a PostgreSQL server: a fresh database ``name`` there, dropped at the end; its URL.

    Without one (SQLite in VAR_DIR): None.
    """
    if not server_url:
        return None
    recreate_pg_database(server_url, name)
    cleanups.callback(recreate_pg_database, server_url, name, drop_only=True)
    return with_database(server_url, name)


def isolate_environment(
    workdir: Path,
    *,
    drop: Iterable[str] = (),
    database_url: str | None = None,
    redis_url: str | None = None,
    **settings: str,
) -> Path:
    """Point this process (and what it starts) at a fresh VAR_DIR in ``workdir``; returns it.

    Drops the inherited variables (and their ``*_FILE`` forms) that would reach the developer's
    own data or services, then sets the filesystem model store and ``settings``.
    """
    var_dir = workdir / "var"
    (var_dir / "static").mkdir(parents=True)  # whitenoise warns about a missing STATIC_ROOT
    for name in (*INHERITED_TO_DROP, *drop):
        os.environ.pop(name, None)
        os.environ.pop(f"{name}_FILE", None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        VAR_DIR=str(var_dir),
        MODEL_STORE="filesystem",
        MODEL_STORE_PATH=str(var_dir / "models"),
        **settings,
    )
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    return var_dir


def add_stack_arguments(
    parser: argparse.ArgumentParser, database_name: str, tmp_dir_help: str | None = None
) -> None:
    """--database-url and --redis-url (read by ``start_dashboard``), and --tmp-dir if given help."""
    parser.add_argument("--database-url", help=f"PostgreSQL server; the database {database_name} is used")
    parser.add_argument("--redis-url", help="use this Redis instead of starting an embedded one")
    if tmp_dir_help:
        parser.add_argument("--tmp-dir", help=tmp_dir_help)


def start_dashboard(
    args: argparse.Namespace,
    workdir: Path,
    cleanups: contextlib.ExitStack,
    *,
    database_name: str,
    drop: Iterable[str] = (),
    **settings: str,
) -> Path:
    """The dashboard's back end in this process, on a fresh VAR_DIR in ``workdir``; returns it.

    A database of its own (``database_name`` on ``args.database_url``'s PostgreSQL server, or
    SQLite in VAR_DIR), the environment cut loose from the developer's (see
    ``isolate_environment``; ``drop`` and ``settings`` go there), Django set up and migrated, and
    Redis (``args.redis_url`` or an embedded one). All of it goes at the end.
    """
    database_url = own_pg_database(args.database_url, database_name, cleanups)
    var_dir = isolate_environment(
        workdir, drop=drop, database_url=database_url, redis_url=args.redis_url, **settings
    )
    start_django(args.redis_url, cleanups)
    return var_dir


def start_django(redis_url: str | None, cleanups: contextlib.ExitStack) -> None:
    """Set Django up, migrate the fresh database and, unless ``redis_url``, start an embedded Redis.

    The database connections are closed and Redis stopped at the end.
    """
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connections

    cleanups.callback(connections.close_all)
    if not redis_url:
        from overview.management.commands.runstack import start_embedded_redis

        cleanups.callback(start_embedded_redis().shutdown)


# --- Processes -------------------------------------------------------------------------------


def start_runstack_process(name: str, log_path: Path) -> subprocess.Popen[bytes]:
    """runstack's own command line for process ``name``, in its own session (Ctrl-C is ours)."""
    from overview.management.commands.runstack import processes

    command = processes()[name]  # an argument list already: no shell quoting to undo
    with log_path.open("wb") as log:  # the child keeps its own copy of the file
        return subprocess.Popen(
            command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def web_settings(port: int, workers: int) -> dict[str, str]:
    """The settings of a bench's own gunicorn (``start_dashboard(..., **web_settings(...))``)."""
    return {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    }


def serve_web(
    port: int, log_path: Path, cleanups: contextlib.ExitStack
) -> tuple[str, subprocess.Popen[bytes]]:
    """Start runstack's web process (gunicorn) on ``port``, stopped at the end; wait until /readyz
    answers 200 (at most 60 s, and not past the server's exit). Returns its base URL and process."""
    base = f"http://127.0.0.1:{port}"
    server = start_runstack_process("web", log_path)
    cleanups.callback(stop_process, server)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.returncode}):\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{base}/readyz", timeout=5) as answer:
            if answer.status == 200:
                return base, server
        time.sleep(0.2)
    raise RuntimeError(f"the web server did not become ready:\n{log_path.read_text()[-3000:]}")


def children_by_parent() -> dict[int, list[int]]:
    """{parent pid: child pids} of all processes (this kernel has no /proc/<pid>/task/*/children)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            parents.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(int(entry))
    return parents


def descendants(pid: int) -> list[int]:
    """Child processes of ``pid``, recursively."""
    parents = children_by_parent()
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def signal_all(group: int | None, pids: list[int], signum: int) -> None:
    """Send ``signum`` to process group ``group`` (if any) and to ``pids``; gone ones are fine."""
    with contextlib.suppress(ProcessLookupError):
        if group is not None:
            os.killpg(group, signum)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def stop_process(
    process: subprocess.Popen[bytes], *, timeout: float = 20, with_descendants: bool = False
) -> None:
    """SIGTERM to the process's group, SIGKILL after ``timeout`` seconds.

    ``with_descendants`` also stops children that left the group: rq starts its work horse in a
    session of its own, so a horse still watching a rollout would outlive a signal to the group.
    """
    if process.poll() is not None:
        return
    children = descendants(process.pid) if with_descendants else []
    signal_all(process.pid, children, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        signal_all(process.pid, children, signal.SIGKILL)
        process.wait()
    if with_descendants:
        time.sleep(0.5)
        signal_all(None, [pid for pid in children if Path(f"/proc/{pid}").exists()], signal.SIGKILL)


def proc_status_kib(pid: int, key: str) -> int:
    """A number from /proc/<pid>/status (VmRSS, VmHWM: KiB; PPid); 0 when the process is gone."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    return 0


# --- Report ----------------------------------------------------------------------------------


def percentile(samples: list[float], pct: int) -> float:
    """The ``pct``-th percentile (inclusive method); the sample itself when there is one."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1]


def print_load(when: str) -> None:
    """Other work on the machine skews latencies: say how busy it was."""
    one, five, _ = os.getloadavg()
    print(f"{when}: load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs", flush=True)
