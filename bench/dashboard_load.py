"""Load test of the dashboard's read paths over real HTTP, against a throwaway stack of its own.

Run from the repository root::

    .venv/bin/python bench/dashboard_load.py [--applications 50] [--releases 10000]
                                             [--audit-events 50000] [--requests 40] [--database-url URL]

It makes a fresh VAR_DIR in a temporary directory, migrates a fresh database there (SQLite; or,
with ``--database-url``, a dedicated PostgreSQL database ``bench_dashboard`` that it creates and
drops), seeds it with ``bulk_create`` (dashboard_seed.py: applications x dev/staging/prod/prod-eu,
months of releases with their run periods, approvals, builds and images, model versions and
audit events), starts an embedded Redis and the web server exactly as ``manage.py runstack``
does (gunicorn, as a subprocess, on a free port), then for each page and API list measures:

* p50/p95 latency of sequential requests over one keep-alive connection, and their rate;
* the rate with ``--clients`` clients at once;
* the SQL queries of one request (in-process, Django's test Client against the same database);

next to ``/healthz``, which touches nothing: the goal is an overview p95 within twice its p95.
That goal is measured on its own at the end, with ``--goal-requests`` requests to each taken
in turns, 20 at a time (20 to /healthz, 20 to /, …, each over its own keep-alive connection):
on a shared machine a busy moment then slows both rather than only the one measured at that
moment, and 40 samples are too few for a p95.
Everything it started and wrote is removed at the end, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import benchlib  # from this script's own folder, before use_repo_imports() takes it off sys.path
import dashboard_seed  # idem; it imports Django models only when it runs
import requests
from benchlib import percentile, print_load

# bench/ holds models_registry.py (another benchmark): ``import models_registry`` must find the app.
benchlib.use_repo_imports()

USER, PG_DB_NAME, TIMEOUT = "bench", "bench_dashboard", 120
PEOPLE = 12  # who requests and approves the seeded releases
GOAL_RATIO = 2.0  # overview p95 at most this many times the /healthz p95
GOAL_TURN = 20  # requests to one URL before the goal's measurement turns to the other
# Besides benchlib's: variables that would point the web server elsewhere or change its limits.
INHERITED_TO_DROP = ("BEHIND_TLS_PROXY", "ALLOWED_HOSTS", "HOST", "PORT")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=50, help="applications, 4 environments each")
    parser.add_argument("--releases", type=int, default=10_000, help="releases over the last 90 days")
    parser.add_argument("--model-versions", type=int, default=5_000, help="model versions (rows only)")
    parser.add_argument("--models", type=int, default=5, help="registered models the versions belong to")
    parser.add_argument("--audit-events", type=int, default=50_000, help="audit events")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per URL and phase")
    parser.add_argument("--clients", type=int, default=4, help="clients at once in the concurrent phase")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument(
        "--goal-requests",
        type=int,
        default=400,
        help="requests to /healthz and to / each, in turns, for the goal",
    )
    benchlib.add_stack_arguments(parser, PG_DB_NAME, "where the temporary VAR_DIR goes")
    args = parser.parse_args()
    if args.applications < 1 or args.models < 1 or args.model_versions < args.models:
        parser.error("needs at least one application, one model and one version per model")
    if args.requests < 2 or args.clients < 1 or args.goal_requests < GOAL_TURN:
        parser.error(
            f"--requests must be at least 2, --clients at least 1 and --goal-requests at least {GOAL_TURN}"
        )
    return args


# --- The stack -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    application: str  # the one the per-application pages show
    model: str
    environment_id: int  # its prod environment
    counts: dict[str, int]
    seconds: float


def seed(args: argparse.Namespace) -> Seeded:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from releases.models import Environment

    people = get_user_model().objects.bulk_create(
        get_user_model()(username=f"person-{i:02d}", password="!") for i in range(PEOPLE)
    )
    options = dashboard_seed.Options(
        applications=args.applications,
        releases=args.releases,
        model_versions=args.model_versions,
        models=args.models,
        audit_events=args.audit_events,
    )
    counts, seconds = dashboard_seed.timed_seed(options, [p.pk for p in people], timezone.now())
    application = f"app-{min(7, args.applications - 1):02d}"
    prod = Environment.objects.select_related("application__model").get(
        application__name=application, name="prod"
    )
    return Seeded(application, prod.application.model.name, prod.pk, counts, seconds)


# --- Clients ---------------------------------------------------------------------------------


def api_token(base: str, password: str) -> str:
    response = requests.post(
        f"{base}/api/v1/auth/token/", data={"username": USER, "password": password}, timeout=TIMEOUT
    )
    response.raise_for_status()
    return response.json()["token"]


def browser_cookies(base: str, password: str) -> dict[str, str]:
    """Log in through the /login/ form, as a person does (CSRF cookie + hidden field)."""
    session = requests.Session()
    session.get(f"{base}/login/", timeout=TIMEOUT).raise_for_status()
    form = {"username": USER, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    session.post(f"{base}/login/", data=form, timeout=TIMEOUT).raise_for_status()
    if session.get(f"{base}/", allow_redirects=False, timeout=TIMEOUT).status_code != 200:
        raise RuntimeError("logging in through /login/ did not give a session")
    return session.cookies.get_dict()


@dataclass(frozen=True)
class Credentials:
    cookies: dict[str, str]
    token: str

    def session(self, kind: str) -> requests.Session:
        """A new keep-alive client: anonymous, signed in (browser) or with the API token."""
        session = requests.Session()
        if kind == "html":
            session.cookies.update(self.cookies)
        elif kind == "api":
            session.headers["Authorization"] = f"Token {self.token}"
        return session


def django_clients(token: str) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    html = Client(HTTP_HOST="127.0.0.1")
    html.force_login(get_user_model().objects.get(username=USER))
    api = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")
    return {"public": Client(HTTP_HOST="127.0.0.1"), "html": html, "api": api}


# --- Measurements ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    path: str
    kind: str  # public, html (signed in) or api (token)


def pages(seeded: Seeded) -> list[Page]:
    app, env = seeded.application, seeded.environment_id
    return [
        Page("/healthz", "public"),
        Page("/", "html"),
        Page(f"/?application={app}", "html"),
        Page("/activity/", "html"),  # what the home page loads below the grid once it shows
        Page(f"/environments/{env}/", "html"),
        Page(f"/applications/{app}/timeline/?days=90", "html"),
        Page(f"/metrics/dora/?application={app}&days=90", "html"),
        Page("/api/v1/overview/", "api"),
        Page("/api/v1/releases/", "api"),
        Page(f"/api/v1/environments/{env}/history/", "api"),
        Page(f"/api/v1/models/{seeded.model}/versions/", "api"),
        Page("/api/v1/audit/", "api"),
        Page(f"/api/v1/metrics/dora/?application={app}&days=90", "api"),
    ]


@dataclass(frozen=True)
class Figures:
    path: str
    p50_ms: float
    p95_ms: float
    rate: float  # requests per second, one client
    concurrent_rate: float  # with --clients clients
    concurrent_p95_ms: float
    queries: int
    kbytes: float


def timed_get(session: requests.Session, url: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = session.get(url, allow_redirects=False, timeout=TIMEOUT)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:300]}")
    return elapsed, len(response.content)


def sequential(session: requests.Session, url: str, count: int) -> tuple[list[float], float, int]:
    """Latencies of ``count`` requests one after the other, their wall time and the body size."""
    for _ in range(3):  # warm the connection, the workers' imports and the database's caches
        timed_get(session, url)
    started = time.perf_counter()
    samples, size = [], 0
    for _ in range(count):
        elapsed, size = timed_get(session, url)
        samples.append(elapsed)
    return samples, time.perf_counter() - started, size


def concurrent(
    credentials: Credentials, page: Page, url: str, count: int, clients: int
) -> tuple[list[float], float]:
    """``count`` requests shared by ``clients`` clients at once (a session each); latencies, wall time."""
    sessions = [credentials.session(page.kind) for _ in range(clients)]
    for session in sessions:
        timed_get(session, url)  # connect before the clock starts
    shares = [count // clients + (i < count % clients) for i in range(clients)]

    def client(i: int) -> list[float]:
        return [timed_get(sessions[i], url)[0] for _ in range(shares[i])]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        samples = [s for part in pool.map(client, range(clients)) for s in part]
    return samples, time.perf_counter() - started


def count_queries(client: Any, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path)  # the first request of a client also loads its session and user
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"test client GET {path}: {response.status_code}")
    return len(captured.captured_queries)


def measure(args: argparse.Namespace, base: str, credentials: Credentials, seeded: Seeded) -> list[Figures]:
    clients = django_clients(credentials.token)
    figures = []
    for page in pages(seeded):
        print(f"  {page.path}", flush=True)
        url = base + page.path
        samples, seconds, size = sequential(credentials.session(page.kind), url, args.requests)
        together, together_seconds = concurrent(credentials, page, url, args.requests, args.clients)
        figures.append(
            Figures(
                page.path,
                percentile(samples, 50) * 1000,
                percentile(samples, 95) * 1000,
                len(samples) / seconds,
                len(together) / together_seconds,
                percentile(together, 95) * 1000,
                count_queries(clients[page.kind], page.path),
                size / 1024,
            )
        )
    return figures


@dataclass(frozen=True)
class Goal:
    requests: int  # to each URL
    healthz_p95_ms: float
    overview_p95_ms: float

    @property
    def ratio(self) -> float:
        return self.overview_p95_ms / self.healthz_p95_ms


def measure_goal(base: str, credentials: Credentials, count: int) -> Goal:
    """The overview's p95 against /healthz's, ``GOAL_TURN`` requests to each in turns."""
    turns = count // GOAL_TURN
    healthz_session, overview_session = credentials.session("public"), credentials.session("html")
    baseline = sequential(healthz_session, f"{base}/healthz", 0)[0]  # connects and warms, no samples
    overview = sequential(overview_session, f"{base}/", 0)[0]
    for _ in range(turns):
        baseline += [timed_get(healthz_session, f"{base}/healthz")[0] for _ in range(GOAL_TURN)]
        overview += [timed_get(overview_session, f"{base}/")[0] for _ in range(GOAL_TURN)]
    return Goal(turns * GOAL_TURN, percentile(baseline, 95) * 1000, percentile(overview, 95) * 1000)


# --- Report ----------------------------------------------------------------------------------


def print_seed(seeded: Seeded) -> None:
    total = sum(seeded.counts.values())
    print(f"\nSeeded {total:,} rows in {seeded.seconds:.1f} s (bulk_create):")
    for label, count in seeded.counts.items():
        print(f"   {label:<32}{count:>8,}")


def print_table(figures: list[Figures], args: argparse.Namespace) -> None:
    baseline = figures[0].p95_ms
    print(
        f"\n{args.requests} sequential requests per URL (one keep-alive client), then {args.requests} "
        f"shared by {args.clients} clients; queries from one request through the test client"
    )
    header = (
        f"{'URL':<50}{'p50 ms':>8}{'p95 ms':>8}{'req/s':>8}"
        f"{f'req/s x{args.clients}':>11}{f'p95 x{args.clients}':>9}{'queries':>8}{'KiB':>7}{'p95/healthz':>12}"
    )
    print(header)
    print("-" * len(header))
    for f in figures:
        print(
            f"{f.path:<50}{f.p50_ms:>8.1f}{f.p95_ms:>8.1f}{f.rate:>8.1f}{f.concurrent_rate:>11.1f}"
            f"{f.concurrent_p95_ms:>9.1f}{f.queries:>8}{f.kbytes:>7.1f}{f.p95_ms / baseline:>11.1f}x"
        )


def print_goal(goal: Goal) -> None:
    met = goal.ratio <= GOAL_RATIO
    print(
        f"\nGoal: overview (/) p95 <= {GOAL_RATIO:g} x /healthz p95, {goal.requests} requests to each in turns: "
        f"{goal.overview_p95_ms:.1f} ms against {GOAL_RATIO:g} x {goal.healthz_p95_ms:.1f} = "
        f"{GOAL_RATIO * goal.healthz_p95_ms:.1f} ms -> {'met' if met else 'NOT met'} ({goal.ratio:.2f}x)"
    )


# --- Main ------------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path, cleanups: contextlib.ExitStack) -> None:
    port, password = benchlib.free_port(), secrets.token_urlsafe(16)
    # The env is shared by this process (seeding, query counts) and the web server it starts.
    var_dir = benchlib.start_dashboard(
        args,
        workdir,
        cleanups,
        database_name=PG_DB_NAME,
        drop=INHERITED_TO_DROP,
        **benchlib.web_settings(port, args.workers),
    )
    from core.management.commands.createuser import create_user_with_role

    create_user_with_role(USER, "release-manager", password)
    print("Seeding…", flush=True)
    seeded = seed(args)
    base, _ = benchlib.serve_web(port, workdir / "web.log", cleanups)
    db = "PostgreSQL " + PG_DB_NAME if args.database_url else "SQLite"
    print(f"Stack: gunicorn {args.workers} workers x 4 threads on {base}, {db}, VAR_DIR {var_dir}")
    print_load("before")
    credentials = Credentials(browser_cookies(base, password), api_token(base, password))
    print("Measuring:", flush=True)
    figures = measure(args, base, credentials, seeded)
    print("  /healthz and / in turns", flush=True)
    goal = measure_goal(base, credentials, args.goal_requests)
    print_seed(seeded)
    print_table(figures, args)
    print_goal(goal)
    print_load("\nafter")


def main() -> int:
    args = parse_args()
    return benchlib.run_cleaned_up(
        functools.partial(run, args), prefix="bench-dashboard-", tmp_dir=args.tmp_dir
    )


if __name__ == "__main__":
    sys.exit(main())
