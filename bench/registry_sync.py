"""Benchmark of the image tag sync against a real distribution registry of its own.

Run from the repository root::

    .venv/bin/python bench/registry_sync.py [--tags 10000] [--images 20] [--database-url URL]

It starts ``docker-registry serve`` (Debian's CNCF distribution registry) on a free loopback
port with a temporary storage root, makes a fresh VAR_DIR and database (SQLite; or, with
``--database-url``, a dedicated PostgreSQL database ``bench_tagsync`` that it creates and
drops), registers a model with one version per image, builds ``--images`` small labelled
images, pushes them and then ``--tags`` tags spread over them (one manifest PUT per tag, from a
thread pool over keep-alive connections), and times ``builds.tagsync.sync_all()`` in-process:

1. the full first sync (every tag is new);
2. a re-sync when nothing changed (it should only list the tags);
3. a re-sync after pushing ``--new-tags`` more tags (incremental);

with wall time, tags/s, HTTP requests to the registry, SQL queries and the process's memory.
With ``--tracemalloc`` / ``--profile`` the sync results are wiped and the full sync is run once
more under tracemalloc (Python allocation peak) / cProfile (where the time goes).

Everything it started and wrote is removed at the end, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import hashlib
import io
import json
import logging
import os
import pstats
import resource
import shutil
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import benchlib  # from this script's own folder, before use_repo_imports() takes it off sys.path
import requests
from benchlib import print_load

# bench/ holds models_registry.py (another benchmark): ``import models_registry`` must find the app.
benchlib.use_repo_imports()

PG_DB_NAME, REPOSITORY, MODEL, ACTOR = "bench_tagsync", "bench/tagsync-app", "bench-model", "bench"
REGISTRY_BINARY = "docker-registry"
TIMEOUT = 60
# Besides benchlib's: variables that would point the dashboard at another registry or workspace.
INHERITED_TO_DROP = (
    "IMAGE_REGISTRY", "REGISTRY_URL", "REGISTRY_PATH", "REGISTRY_HOST", "REGISTRY_USERNAME",
    "REGISTRY_PASSWORD", "GIT_CACHE_DIR", "BUILD_WORKDIR",
)  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tags", type=int, default=10_000, help="tags to push (default 10000)")
    parser.add_argument("--images", type=int, default=20, help="distinct images the tags point at")
    parser.add_argument("--new-tags", type=int, default=100, help="tags pushed before the incremental sync")
    parser.add_argument("--push-threads", type=int, default=8, help="parallel manifest PUTs")
    parser.add_argument("--tracemalloc", action="store_true", help="extra full sync under tracemalloc")
    parser.add_argument("--profile", action="store_true", help="extra full sync under cProfile")
    benchlib.add_stack_arguments(parser, PG_DB_NAME, "where the temporary VAR_DIR and registry storage go")
    args = parser.parse_args()
    if not 1 <= args.images <= args.tags:
        parser.error("--images must be between 1 and --tags")
    return args


# --- The registry and the dashboard ----------------------------------------------------------


def registry_binary() -> str:
    binary = shutil.which(REGISTRY_BINARY) or (
        "/usr/bin/docker-registry" if Path("/usr/bin/docker-registry").exists() else None
    )
    if binary is None:
        sys.exit(
            "docker-registry (the CNCF distribution registry) is not installed: "
            "run scripts/install-test-deps.sh (or `apt-get install -y docker-registry`)"
        )
    return binary


def start_registry(work: Path, cleanups: contextlib.ExitStack) -> str:
    """``docker-registry serve`` in its own session (Ctrl-C is ours)."""
    from tests.support import registry_server

    url, process = registry_server.start(registry_binary(), work, new_session=True)
    cleanups.callback(benchlib.stop_process, process, timeout=10)
    return url


def start_stack(args: argparse.Namespace, workdir: Path, cleanups: contextlib.ExitStack) -> tuple[str, Path]:
    """The registry, then a fresh VAR_DIR and database for the in-process dashboard pointed at
    it; returns the registry's URL and the VAR_DIR."""
    registry_url = start_registry(workdir, cleanups)
    var_dir = benchlib.start_dashboard(
        args, workdir, cleanups, database_name=PG_DB_NAME, drop=INHERITED_TO_DROP,
        IMAGE_REGISTRY="distribution", REGISTRY_URL=registry_url,
    )  # fmt: skip
    # The sync logs its report at INFO; the table below says the same, once.
    logging.getLogger("builds.tagsync").setLevel(logging.WARNING)
    return registry_url, var_dir


# --- Content: model versions, images, tags ---------------------------------------------------


def register_versions(count: int) -> list[Any]:
    """One small distinct model file per image, registered before any application exists
    (so no rebuild is triggered)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from models_registry import services as model_services

    model = model_services.create_model(MODEL, actor=ACTOR)
    versions = []
    for index in range(count):
        upload = SimpleUploadedFile("model.json", f'{{"bench": {index}}}'.encode())
        info = model_services.VersionInfo(metrics={"auc": 0.8}, filename="model.json")
        versions.append(model_services.register_uploaded_version(model, upload, info, actor=ACTOR)[0])
    return versions


def create_application() -> Any:
    from builds import services as build_services
    from models_registry.models import RegisteredModel

    fields = {
        "name": "bench-tagsync-app",
        "repository_url": "https://git.example.invalid/bench/app.git",
        "image_repository": REPOSITORY,
        "model": RegisteredModel.objects.get(name=MODEL),
        "rebuild_on_new_model": False,
    }
    return build_services.create_application(fields, actor=ACTOR)


def commit_for(index: int) -> str:
    return hashlib.sha1(f"bench-commit-{index}".encode()).hexdigest()


def build_labelled_image(work: Path, index: int, version: Any) -> Any:
    """A one-layer image whose labels link it to a commit and a registered model version."""
    from integrations.images import labels
    from integrations.images.oci import ImageConfig, LayerSource, build_image

    app = work / "src" / "app"
    app.mkdir(parents=True)
    (app / "serve.py").write_text(f"print('serving image {index}')\n")
    spec = ImageConfig(
        labels={
            labels.OCI_REVISION: commit_for(index),
            labels.MODEL_NAME: MODEL,
            labels.MODEL_VERSION: str(version.version),
            labels.MODEL_SHA256: version.sha256,
        },
        entrypoint=["python3", "serve.py"],
        cmd=[],
        workdir="/app",
        env={},
        exposed_ports=[8080],
        created=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return build_image([LayerSource(app, "/app")], spec, work / "image")


def push_images(registry_url: str, images: list[Any], tags: list[str]) -> None:
    """Blobs and first tag of each image through our own adapter (as a CI push would)."""
    from integrations.registry.distribution import DistributionRegistry

    registry = DistributionRegistry(registry_url)
    for image, tag in zip(images, tags, strict=True):
        registry.push_image(REPOSITORY, tag, image)


@dataclass(frozen=True)
class PushFigures:
    count: int
    seconds: float


def push_tags(registry_url: str, images: list[Any], jobs: list[tuple[str, int]], threads: int) -> PushFigures:
    """A manifest PUT per (tag, image index): the blobs are there already, so that is all a tag
    needs. One keep-alive session per thread."""
    local = threading.local()
    media_types = {id(i): _media_type(i) for i in images}

    def put(job: tuple[str, int]) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        tag, index = job
        image = images[index]
        response = local.session.put(
            f"{registry_url}/v2/{REPOSITORY}/manifests/{tag}",
            data=image.manifest_bytes,
            headers={"Content-Type": media_types[id(image)]},
            timeout=TIMEOUT,
        )
        if response.status_code != 201:
            raise RuntimeError(f"PUT manifest {tag}: {response.status_code} {response.text[:300]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(put, jobs):
            pass
    return PushFigures(len(jobs), time.perf_counter() - started)


def _media_type(image: Any) -> str:
    return json.loads(image.manifest_bytes)["mediaType"]


# --- Measuring one sync ----------------------------------------------------------------------


def vm_rss_kib() -> int:
    return benchlib.proc_status_kib(os.getpid(), "VmRSS")


class RssSampler(threading.Thread):
    """This process's VmRSS every 20 ms: the peak during one sync, not over the whole run."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.baseline = self.peak = vm_rss_kib()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.02):
            self.peak = max(self.peak, vm_rss_kib())

    def stop(self) -> tuple[int, int]:
        self.stopped.set()
        self.join()
        return self.baseline, max(self.peak, vm_rss_kib())


@dataclass
class SyncFigures:
    label: str
    tags_in_registry: int
    seconds: float = 0.0
    http: Counter[str] = field(default_factory=Counter)
    sql: int = 0
    rss_base_kib: int = 0
    rss_peak_kib: int = 0
    maxrss_before_kib: int = 0
    maxrss_after_kib: int = 0
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def http_total(self) -> int:
        return sum(self.http.values())


def timed_sync(label: str, tags_in_registry: int, around: Callable[[], Any] | None = None) -> SyncFigures:
    """``sync_all()`` with the registry's HTTP responses and the SQL statements counted.

    Counting goes through the hooks requests and Django offer (a response hook on the adapter's
    session, a database execute wrapper), so the code under test runs unchanged.
    """
    from django.db import connection

    from builds import tagsync
    from core import adapters

    figures = SyncFigures(label, tags_in_registry)
    session = adapters.registry().http.session

    def count_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        figures.http[response.request.method or "?"] += 1

    def count_sql(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        figures.sql += 1
        return execute(sql, params, many, context)

    session.hooks["response"].append(count_response)
    figures.maxrss_before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sampler = RssSampler()
    sampler.start()
    try:
        with connection.execute_wrapper(count_sql), around() if around else contextlib.nullcontext():
            started = time.perf_counter()
            figures.report = tagsync.sync_all().as_dict()
            figures.seconds = time.perf_counter() - started
    finally:
        figures.rss_base_kib, figures.rss_peak_kib = sampler.stop()
        session.hooks["response"].remove(count_response)
    figures.maxrss_after_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if figures.report["errors"]:
        raise RuntimeError(f"{label}: the sync reported errors: {figures.report['errors'][:5]}")
    return figures


@contextlib.contextmanager
def traced(result: dict[str, int]) -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        result["current"], result["peak"] = tracemalloc.get_traced_memory()
        tracemalloc.stop()


@contextlib.contextmanager
def profiled(result: dict[str, str]) -> Iterator[None]:
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        for order in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(18)
            result[order] = out.getvalue()


def round_trip_ms(tags: list[str]) -> list[float]:
    """Latency of the one registry call a new tag costs (the adapter's HEAD manifest), alone."""
    from core import adapters

    registry, samples = adapters.registry(), []
    for tag in tags:
        started = time.perf_counter()
        registry.resolve(REPOSITORY, tag)
        samples.append((time.perf_counter() - started) * 1000)
    return sorted(samples)


def wipe_sync_results() -> None:
    """Forget what the sync found, so the next sync is a full one again."""
    from builds.models import Image, ImageTag

    ImageTag.objects.filter(repository=REPOSITORY).delete()
    Image.objects.filter(repository=REPOSITORY).delete()


def check_results(tags: int, images: int) -> str:
    from builds.models import Image, ImageTag

    linked = Image.objects.filter(repository=REPOSITORY, model_version__isnull=False).exclude(commit="")
    found = (ImageTag.objects.filter(repository=REPOSITORY).count(), Image.objects.count(), linked.count())
    verdict = "OK" if found == (tags, images, images) else "WRONG"
    return (
        f"{found[0]} tags and {found[1]} images in the database, {found[2]} linked to a commit and a "
        f"model version (expected {tags}/{images}/{images}): {verdict}"
    )


# --- Report ----------------------------------------------------------------------------------


def mib(kib: int) -> float:
    return kib / 1024


def print_round_trip(samples: list[float], rows: list[SyncFigures]) -> None:
    p50, p95 = samples[len(samples) // 2], samples[int(len(samples) * 0.95)]
    mean, full = sum(samples) / len(samples), rows[0]
    projected = full.tags_in_registry * mean / 1000
    print(
        f"  one resolve() alone (HEAD manifest, {len(samples)} samples): mean {mean:.2f} ms, p50 {p50:.2f} ms,"
        f" p95 {p95:.2f} ms; x {full.tags_in_registry} tags = {projected:.1f} s of the full sync's"
        f" {full.seconds:.1f} s"
    )


def print_table(rows: list[SyncFigures]) -> None:
    print("\nTag sync (builds.tagsync.sync_all(), in-process, distribution registry over loopback)")
    header = (
        f"  {'run':<30}{'tags':>7}{'wall s':>9}{'tags/s':>9}{'HTTP':>7}  {'by method':<20}"
        f"{'SQL':>6}{'new tags':>9}{'new imgs':>9}{'RSS +MiB':>9}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for row in rows:
        methods = " ".join(f"{k} {v}" for k, v in sorted(row.http.items()))
        rate = row.tags_in_registry / row.seconds if row.seconds else 0
        print(
            f"  {row.label:<30}{row.tags_in_registry:>7}{row.seconds:>9.2f}{rate:>9.0f}{row.http_total:>7}"
            f"  {methods:<20}{row.sql:>6}{row.report['tags_new']:>9}{row.report['images_new']:>9}"
            f"{mib(row.rss_peak_kib - row.rss_base_kib):>9.1f}"
        )
    print("  tags/s = tags in the repository / wall time; HTTP = responses from the registry;")
    print("  RSS +MiB = peak VmRSS during that sync (sampled every 20 ms) minus VmRSS before it.")
    full = rows[0]
    print(
        f"  process peak RSS (ru_maxrss): {mib(full.maxrss_before_kib):.1f} MiB before the full sync, "
        f"{mib(full.maxrss_after_kib):.1f} MiB after it"
    )
    if len(rows) > 1 and rows[1].seconds:
        print(f"  no-change re-sync is {full.seconds / rows[1].seconds:.0f}x faster than the full sync")


# --- Main ------------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path, cleanups: contextlib.ExitStack) -> None:
    registry_url, var_dir = start_stack(args, workdir, cleanups)
    db = f"PostgreSQL {PG_DB_NAME}" if args.database_url else "SQLite"
    print(f"Registry: docker-registry on {registry_url}; database {db}; VAR_DIR {var_dir}")
    print_load("before")
    run_measurements(args, registry_url, workdir)
    print_load("\nafter")


def run_measurements(args: argparse.Namespace, registry_url: str, workdir: Path) -> None:
    print(f"Registering {args.images} model versions, building and pushing {args.images} images…", flush=True)
    versions = register_versions(args.images)
    images = [build_labelled_image(workdir / f"img-{i}", i, versions[i]) for i in range(args.images)]
    tags = [(f"ci-{i:05d}", i % args.images) for i in range(args.tags)]
    push_images(registry_url, images, [tag for tag, _ in tags[: args.images]])
    print(f"Pushing {args.tags - args.images} more tags ({args.push_threads} threads)…", flush=True)
    pushed = push_tags(registry_url, images, tags[args.images :], args.push_threads)
    print(
        f"  {pushed.count} manifest PUTs in {pushed.seconds:.1f} s: {pushed.count / pushed.seconds:.0f} tags/s"
    )
    create_application()

    print("Full sync…", flush=True)
    rows = [timed_sync(f"full sync ({args.tags} new)", args.tags)]
    print("  " + check_results(args.tags, args.images))
    print("Re-sync, nothing changed…", flush=True)
    rows.append(timed_sync("re-sync, nothing changed", args.tags))
    new = [(f"new-{i:05d}", i % args.images) for i in range(args.new_tags)]
    push_tags(registry_url, images, new, args.push_threads)
    total = args.tags + args.new_tags
    print(f"Re-sync after {args.new_tags} new tags…", flush=True)
    rows.append(timed_sync(f"re-sync, {args.new_tags} new tags", total))
    print("  " + check_results(total, args.images))
    samples = round_trip_ms([tag for tag, _ in tags[:500]])
    extras = extra_runs(args, total)
    print_table(rows)
    print_round_trip(samples, rows)
    print_extras(extras)


def extra_runs(args: argparse.Namespace, total: int) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    if args.tracemalloc:
        print("Full sync again under tracemalloc…", flush=True)
        wipe_sync_results()
        memory: dict[str, int] = {}
        extras["tracemalloc"] = (timed_sync("traced", total, lambda: traced(memory)), memory)
    if args.profile:
        print("Full sync again under cProfile…", flush=True)
        wipe_sync_results()
        stats: dict[str, str] = {}
        extras["profile"] = (timed_sync("profiled", total, lambda: profiled(stats)), stats)
    return extras


def print_extras(extras: dict[str, Any]) -> None:
    if "tracemalloc" in extras:
        figures, memory = extras["tracemalloc"]
        print(
            f"\nFull sync of {figures.tags_in_registry} tags under tracemalloc ({figures.seconds:.1f} s): "
            f"Python allocations peaked at {mib(memory['peak'] // 1024):.1f} MiB "
            f"({mib(memory['current'] // 1024):.1f} MiB still held at the end)"
        )
    if "profile" in extras:
        figures, stats = extras["profile"]
        print(f"\nFull sync of {figures.tags_in_registry} tags under cProfile ({figures.seconds:.1f} s)")
        for order in ("cumulative", "tottime"):
            print(f"--- top by {order}")
            text = stats[order]
            print(text[text.find("   ncalls") :].rstrip())


def main() -> int:
    args = parse_args()
    registry_binary()  # fail before doing anything else when it is missing
    return benchlib.run_cleaned_up(
        functools.partial(run, args), prefix="bench-tagsync-", tmp_dir=args.tmp_dir
    )


if __name__ == "__main__":
    sys.exit(main())
