"""Benchmark of the model registry over real HTTP, against a throwaway stack of its own.

Run from the repository root::

    .venv/bin/python bench/models_registry.py [--versions 1000] [--big-mb 1024] [--database-url URL]

It makes a fresh VAR_DIR in a temporary directory (the developer's ``var/`` is never touched),
migrates a fresh database there (SQLite; or, with ``--database-url``, a dedicated PostgreSQL
database ``bench_registry`` that it creates and drops), starts an embedded Redis and the web
server exactly as ``manage.py runstack`` does (gunicorn, as a subprocess, on a free port), then
measures:

1. registrations per second through ``POST /api/v1/models/{name}/versions/``;
2. p50/p95 latency over HTTP and the SQL query count (in-process, Django's test Client against
   the same database) of the model pages and the API lists at 10 and at N versions;
3. a streamed upload of one big file: MB/s next to ``sha256sum`` on the same file, the web
   workers' resident memory while it streams in, and the registered sha256.

Everything it started and wrote is removed at the end, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import json
import os
import random
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import benchlib  # from this script's own folder, before use_repo_imports() takes it off sys.path
import requests
from benchlib import percentile, print_load

# This file is named like the app: ``import models_registry`` must find the app, not this script.
benchlib.use_repo_imports()

USER, PG_DB_NAME, MIB = "bench", "bench_registry", 1024 * 1024
TIMEOUT = 120  # seconds for any one small request; the big upload has its own
# Besides benchlib's: variables that would point the web server elsewhere or change its limits.
INHERITED_TO_DROP = ("BEHIND_TLS_PROXY", "MAX_UPLOAD_BYTES", "ALLOWED_HOSTS", "HOST", "PORT")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=1000, help="versions to register (default 1000)")
    parser.add_argument("--models", type=int, default=1, help="spread the versions over N models")
    parser.add_argument("--concurrency", type=int, default=1, help="parallel registration clients")
    parser.add_argument("--file-kb", type=int, default=4, help="size of each small version file")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--big-mb", type=int, default=1024, help="size of the big upload in MiB (0: skip)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    benchlib.add_stack_arguments(parser, PG_DB_NAME, "where the temporary VAR_DIR and big file go")
    args = parser.parse_args()
    if args.versions < 10 * args.models:
        parser.error("--versions must be at least 10 per model (the first measurement is at 10)")
    return args


# --- The stack -------------------------------------------------------------------------------


def create_user(password: str) -> Any:
    from core.management.commands.createuser import create_user_with_role

    return create_user_with_role(USER, "data-scientist", password)


# --- Clients ---------------------------------------------------------------------------------


def api_session(base: str, password: str) -> tuple[requests.Session, str]:
    response = requests.post(
        f"{base}/api/v1/auth/token/", data={"username": USER, "password": password}, timeout=TIMEOUT
    )
    response.raise_for_status()
    token = response.json()["token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    return session, token


def browser_session(base: str, password: str) -> requests.Session:
    """Log in through the /login/ form, as a person does (CSRF cookie + hidden field)."""
    session = requests.Session()
    session.get(f"{base}/login/", timeout=TIMEOUT).raise_for_status()
    form = {"username": USER, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    session.post(f"{base}/login/", data=form, timeout=TIMEOUT).raise_for_status()
    if session.get(f"{base}/models/", allow_redirects=False, timeout=TIMEOUT).status_code != 200:
        raise RuntimeError("logging in through /login/ did not give a session")
    return session


# --- 1. Registrations ------------------------------------------------------------------------


@dataclass
class Registrations:
    count: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)


def model_names(count: int) -> list[str]:
    return [f"bench-{i:02d}" for i in range(count)]


def register_batch(
    base: str, token: str, jobs: list[tuple[str, int]], args: argparse.Namespace
) -> Registrations:
    """Register one small distinct file per job (model, index); keep-alive session per thread."""
    local = threading.local()

    def register(job: tuple[str, int]) -> float:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers["Authorization"] = f"Token {token}"
        name, index = job
        metrics = {"auc": round(random.random(), 4), "f1": round(random.random(), 4), "rows": index}
        files = {"file": (f"model-{index}.bin", os.urandom(args.file_kb * 1024))}
        data = {"metrics": json.dumps(metrics), "framework": "bench"}
        started = time.perf_counter()
        response = local.session.post(
            f"{base}/api/v1/models/{name}/versions/", files=files, data=data, timeout=TIMEOUT
        )
        if response.status_code != 201:
            raise RuntimeError(f"registering {name} #{index}: {response.status_code} {response.text[:300]}")
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        latencies = list(pool.map(register, jobs))
    return Registrations(len(jobs), time.perf_counter() - started, latencies)


# --- 2. Pages: latency and query counts ------------------------------------------------------


@dataclass(frozen=True)
class PageFigures:
    label: str
    versions: int
    p50_ms: float
    p95_ms: float
    queries: int
    kbytes: float


def time_requests(session: requests.Session, url: str, count: int) -> tuple[list[float], int]:
    for _ in range(3):  # warm caches, connections and the worker's imports
        session.get(url, allow_redirects=False, timeout=TIMEOUT).raise_for_status()
    samples, size = [], 0
    for _ in range(count):
        started = time.perf_counter()
        response = session.get(url, allow_redirects=False, timeout=TIMEOUT)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code}")
        size = len(response.content)
    return samples, size


def count_queries(client: Any, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path)  # the first request of a client also loads its session and user
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"test client GET {path}: {response.status_code}")
    return len(captured.captured_queries)


def django_clients(user: Any, token: str) -> dict[str, Any]:
    from django.test import Client

    html = Client(HTTP_HOST="127.0.0.1")
    html.force_login(user)
    return {"html": html, "api": Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")}


def measure_pages(
    base: str, sessions: dict[str, requests.Session], clients: dict[str, Any], model: str, count: int
) -> list[PageFigures]:
    from models_registry.models import ModelVersion

    versions = ModelVersion.objects.filter(model__name=model).count()
    pages = [
        ("page /models/", "html", "/models/"),
        (f"page /models/{model}/", "html", f"/models/{model}/"),
        ("GET /api/v1/models/", "api", "/api/v1/models/"),
        (f"GET /api/v1/models/{model}/versions/", "api", f"/api/v1/models/{model}/versions/"),
    ]
    figures = []
    for label, kind, path in pages:
        samples, size = time_requests(sessions[kind], base + path, count)
        queries = count_queries(clients[kind], path)
        p50, p95 = percentile(samples, 50) * 1000, percentile(samples, 95) * 1000
        figures.append(PageFigures(label, versions, p50, p95, queries, size / 1024))
    return figures


# --- 3. The big upload -----------------------------------------------------------------------


def write_random_file(path: Path, size_mib: int) -> None:
    with path.open("wb") as out:
        for _ in range(size_mib):
            out.write(os.urandom(MIB))


def timed_sha256sum(path: Path) -> tuple[str, float]:
    started = time.perf_counter()
    output = subprocess.run(["sha256sum", str(path)], check=True, capture_output=True, text=True).stdout
    return output.split()[0], time.perf_counter() - started


class RssSampler(threading.Thread):
    """Samples VmRSS of each web worker every 50 ms; keeps the per-worker peak."""

    def __init__(self, master: int) -> None:
        super().__init__(daemon=True)
        self.master = master
        self.pids = benchlib.children_by_parent().get(master, [])  # the web workers
        self.baseline = {pid: benchlib.proc_status_kib(pid, "VmRSS") for pid in self.pids}
        self.peak = dict(self.baseline)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.05):
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], benchlib.proc_status_kib(pid, "VmRSS"))

    def stop(self) -> dict[int, tuple[int, int, int]]:
        """{pid: (baseline, peak VmRSS, VmHWM)} in KiB."""
        self.stopped.set()
        self.join()
        return {
            pid: (self.baseline[pid], self.peak[pid], benchlib.proc_status_kib(pid, "VmHWM"))
            for pid in self.pids
        }


def multipart_stream(path: Path, boundary: str, fields: dict[str, str]) -> tuple[Iterator[bytes], int]:
    """A multipart body read from disk chunk by chunk, and its exact length for Content-Length."""
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        with path.open("rb") as source:
            while chunk := source.read(MIB):
                yield chunk
        yield tail

    return body(), len(head) + path.stat().st_size + len(tail)


def upload_streaming(base: str, token: str, model: str, path: Path) -> tuple[dict[str, Any], float, float]:
    """POST the file with http.client; returns (response body, seconds to send, seconds to answer)."""
    boundary = uuid.uuid4().hex
    body, length = multipart_stream(
        path, boundary, {"metrics": json.dumps({"auc": 0.9}), "framework": "bench"}
    )
    sent: list[float] = []

    def timed_body() -> Iterator[bytes]:
        yield from body
        sent.append(time.perf_counter())

    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=900)
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(length),
        "Authorization": f"Token {token}",
    }
    started = time.perf_counter()
    try:
        conn.request("POST", f"/api/v1/models/{model}/versions/", body=timed_body(), headers=headers)
        response = conn.getresponse()
        text = response.read().decode()
    finally:
        conn.close()
    finished = time.perf_counter()
    if response.status != 201:
        raise RuntimeError(f"big upload: {response.status} {text[:500]}")
    return json.loads(text), sent[0] - started, finished - started


# --- Report ----------------------------------------------------------------------------------


def print_registrations(regs: Registrations, args: argparse.Namespace) -> None:
    spread = "one model (bench-00)" if args.models == 1 else f"{args.models} models (round robin)"
    print(f"\n1. Registrations via POST /api/v1/models/{{name}}/versions/ ({args.file_kb} KiB files)")
    print(f"   {regs.count} versions over {spread}, concurrency {args.concurrency}, keep-alive")
    print(f"   {regs.count / regs.seconds:8.1f} registrations/s   ({regs.seconds:.1f} s in all)")
    p50, p95 = percentile(regs.latencies, 50) * 1000, percentile(regs.latencies, 95) * 1000
    print(f"   per request: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(regs.latencies) * 1000:.1f} ms")


def print_pages(small: list[PageFigures], large: list[PageFigures], requests_each: int) -> None:
    print(f"\n2. Pages ({requests_each} timed requests each over HTTP; queries via the test client)")
    header = f"   {'endpoint':<44}{'versions':>9}{'p50 ms':>9}{'p95 ms':>9}{'queries':>9}{'KiB':>9}"
    print(header)
    print("   " + "-" * (len(header) - 3))
    for figures in (*small, *large):
        print(
            f"   {figures.label:<44}{figures.versions:>9}{figures.p50_ms:>9.1f}{figures.p95_ms:>9.1f}"
            f"{figures.queries:>9}{figures.kbytes:>9.1f}"
        )
    for a, b in zip(small, large, strict=True):
        verdict = "constant" if a.queries == b.queries else f"GREW {a.queries} -> {b.queries}"
        growth = b.p50_ms / a.p50_ms if a.p50_ms else 0
        print(f"   {a.label:<44} queries {verdict}; p50 x{growth:.1f} from {a.versions} to {b.versions}")


def print_big_upload(figures: dict[str, Any]) -> None:
    size_mib = figures["size"] / MIB
    print(f"\n3. One {size_mib:.0f} MiB file through the API (streamed multipart, http.client)")
    print(f"   upload + register      {size_mib / figures['total']:8.1f} MiB/s  ({figures['total']:.1f} s)")
    after = figures["total"] - figures["sent"]
    print(f"     of which sending     {size_mib / figures['sent']:8.1f} MiB/s  ({figures['sent']:.1f} s)")
    print(f"     answer after the last byte       ({after:.1f} s: store copy, hash, fsync, DB)")
    print(f"   sha256sum same file    {size_mib / figures['sha_s']:8.1f} MiB/s  ({figures['sha_s']:.1f} s)")
    rss = figures["rss"]
    growth = max((peak - base for base, peak, _ in rss.values()), default=0)
    for pid, (base, peak, hwm) in sorted(rss.items()):
        print(
            f"   worker {pid}: RSS baseline {base / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB, VmHWM {hwm / 1024:.0f} MiB"
        )
    limit_kib = max(32 * 1024, figures["size"] // 1024 // 10)
    verdict = (
        "OK, far below the file size" if growth < limit_kib else "TOO HIGH: memory grows with the upload"
    )
    print(f"   peak RSS growth during the upload: {growth / 1024:.1f} MiB -> {verdict}")
    match = "match" if figures["server_sha"] == figures["local_sha"] else "MISMATCH"
    print(
        f"   sha256 registered {figures['server_sha'][:16]}… vs sha256sum {figures['local_sha'][:16]}…: {match}"
    )


# --- Main ------------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path, cleanups: contextlib.ExitStack) -> None:
    port, password = benchlib.free_port(), secrets.token_urlsafe(16)
    # The env is shared by this process (query counts) and the web server it starts.
    var_dir = benchlib.start_dashboard(
        args,
        workdir,
        cleanups,
        database_name=PG_DB_NAME,
        drop=INHERITED_TO_DROP,
        **benchlib.web_settings(port, args.workers),
    )
    user = create_user(password)
    base, server = benchlib.serve_web(port, workdir / "web.log", cleanups)
    db = "PostgreSQL " + PG_DB_NAME if args.database_url else "SQLite"
    print(f"Stack: gunicorn {args.workers} workers x 4 threads on {base}, {db}, VAR_DIR {var_dir}")
    print_load("before")
    run_measurements(args, base, password, user, server, workdir)


def run_measurements(
    args: argparse.Namespace,
    base: str,
    password: str,
    user: Any,
    server: subprocess.Popen[bytes],
    workdir: Path,
) -> None:
    api, token = api_session(base, password)
    sessions = {"html": browser_session(base, password), "api": api}
    clients = django_clients(user, token)
    names = model_names(args.models)
    for name in [*names, "bench-big"]:
        api.post(f"{base}/api/v1/models/", json={"name": name}, timeout=TIMEOUT).raise_for_status()
    jobs = [(names[i % args.models], i) for i in range(args.versions)]
    first = 10 * args.models
    print(f"Registering {first} versions, measuring pages…", flush=True)
    regs = register_batch(base, token, jobs[:first], args)
    small = measure_pages(base, sessions, clients, names[0], args.requests)
    print(f"Registering {args.versions - first} more versions, measuring pages…", flush=True)
    rest = register_batch(base, token, jobs[first:], args)
    regs = Registrations(
        regs.count + rest.count, regs.seconds + rest.seconds, regs.latencies + rest.latencies
    )
    large = measure_pages(base, sessions, clients, names[0], args.requests)
    big = big_upload(args, base, token, server, workdir) if args.big_mb else None
    print_registrations(regs, args)
    print_pages(small, large, args.requests)
    if big:
        print_big_upload(big)
    print_load("\nafter")


def big_upload(
    args: argparse.Namespace, base: str, token: str, server: subprocess.Popen[bytes], workdir: Path
) -> dict[str, Any]:
    path = workdir / "big-model.bin"
    print(f"Writing a {args.big_mb} MiB random file, hashing it, uploading it…", flush=True)
    write_random_file(path, args.big_mb)
    local_sha, sha_s = timed_sha256sum(path)
    sampler = RssSampler(server.pid)
    sampler.start()
    try:
        body, sent, total = upload_streaming(base, token, "bench-big", path)
    finally:
        rss = sampler.stop()
    size = path.stat().st_size
    path.unlink()
    return {"size": size, "sent": sent, "total": total, "sha_s": sha_s, "rss": rss,
            "local_sha": local_sha, "server_sha": body["sha256"]}  # fmt: skip


def main() -> int:
    args = parse_args()
    return benchlib.run_cleaned_up(
        functools.partial(run, args), prefix="bench-registry-", tmp_dir=args.tmp_dir
    )


if __name__ == "__main__":
    sys.exit(main())
