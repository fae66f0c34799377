"""How long after a Deployment's status changes does the dashboard record it?

Run from the repository root::

    .venv/bin/python bench/rollout_latency.py [--changes 100] [--replicas 7] [--database-url URL]

It starts the Kubernetes API stand-in (``../shared/testing/k8s``) in this process, creates a
namespace and a Deployment there and lets the simulated controller make it available, then
*pauses* the controller: from then on only this script writes the Deployment's status, so it
knows to the millisecond when each change happened. It makes a fresh VAR_DIR and database
(SQLite; or, with ``--database-url``, a dedicated PostgreSQL database ``bench_rollout`` that it
creates and drops), starts an embedded Redis and a deploy worker with ``manage.py runstack``'s
own command line, and creates a model version, an application and a Kubernetes environment
(no approvals) pointing at the stand-in.

Each round requests a release of a new image (``services.request_release``), so the real path
runs in the worker: job queue -> ``deployer.deploy`` -> ``KubernetesTarget.watch`` -> one
``RolloutEvent`` per observed change. Once the watch has recorded its first status, the script
walks the rollout forward one visible step at a time with PUT .../deployments/NAME/status
(0, 1, 2 ... replicas updated, old replicas terminating, new ones available, done), each step
tagged with a unique Progressing-condition message. After each write it waits until the event
carrying that tag appears (or ``--miss-after`` seconds pass: a miss), then pauses a random
0.1-0.5 s so the writes fall at all points of the watch's re-open cycle.

Latency of a change = the event's ``at`` (set by the worker when it records the change) minus
the moment the status write was sent (same machine, same clock). The API server applies the
write somewhere between sending and its response, so this overstates by at most the write's
round trip (printed too) and never understates; counting from the response instead gives
slightly negative values when the worker is quicker than this script's HTTP client. Also shown:
when a reader polling the table every 20 ms first saw the event.

Everything it started and wrote is removed at the end, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import benchlib  # from this script's own folder, before use_repo_imports() takes it off sys.path
from benchlib import percentile, print_load

# bench/ holds models_registry.py (another benchmark): ``import models_registry`` must find the app.
REPO = benchlib.use_repo_imports()

STANDIN_DIR = Path(os.environ.get("K8S_STANDIN_DIR") or REPO.parent / "shared" / "testing" / "k8s")
PG_DB_NAME, USER, DEPLOYMENT, CONTAINER = "bench_rollout", "bench", "web", "app"
IMAGE_REPOSITORY = "registry.example.com/ai/bench-rollout"
GOAL_SECONDS = 2.0
POLL_SECONDS = 0.02
# Besides benchlib's: variables that would change how the deploy worker leases, retries and times out.
INHERITED_TO_DROP = ("DEPLOY_LEASE_SECONDS", "JOB_MAX_RETRIES", "JOB_RETRY_DELAY", "JOB_TIMEOUT")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=100, help="status changes to time (default 100)")
    parser.add_argument(
        "--replicas", type=int, default=7, help="replicas of the Deployment (a round has replicas+3 changes)"
    )
    parser.add_argument(
        "--miss-after", type=float, default=10.0, help="seconds after which a change counts as missed"
    )
    benchlib.add_stack_arguments(parser, PG_DB_NAME)
    parser.add_argument("--seed", type=int, default=1, help="seed of the random pauses between changes")
    parser.add_argument(
        "--tcp-nodelay",
        action="store_true",
        help="set TCP_NODELAY on the stand-in's connections, as Go's kube-apiserver does (see README)",
    )
    args = parser.parse_args()
    if args.changes < 1 or args.replicas < 1:
        parser.error("--changes and --replicas must be at least 1")
    return args


# --- The stand-in ----------------------------------------------------------------------------


def standin_class() -> Any:
    if not (STANDIN_DIR / "k8s_standin.py").is_file():
        raise SystemExit(
            f"The Kubernetes API stand-in is not in {STANDIN_DIR}: check out the shared testing "
            "tools next to the repository (../shared/testing/k8s) or set K8S_STANDIN_DIR."
        )
    sys.path.insert(0, str(STANDIN_DIR))
    from k8s_standin import StandIn

    return StandIn


def set_tcp_nodelay() -> None:
    """Make the stand-in answer like kube-apiserver: Go sets TCP_NODELAY on every connection.

    The stand-in's http.server writes a response's headers and body in two sends; without
    TCP_NODELAY, Nagle holds the body back until the client's delayed ACK (about 40 ms on Linux)
    on every request over a kept-alive connection."""
    import k8s_standin

    original = k8s_standin.Handler.setup

    def setup(handler: Any) -> None:
        handler.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        original(handler)

    k8s_standin.Handler.setup = setup


def quiet_resets(httpd: Any) -> None:
    """A worker process that ends with a watch still open resets its connections: not news."""
    original = httpd.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            original(request, client_address)

    httpd.handle_error = handle_error


def image_reference(name: str) -> str:
    return f"{IMAGE_REPOSITORY}@sha256:{hashlib.sha256(name.encode()).hexdigest()}"


def deployment_body(replicas: int) -> dict[str, Any]:
    labels = {"app": DEPLOYMENT}
    container = {"name": CONTAINER, "image": image_reference("initial"), "ports": [{"containerPort": 8080}]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


@dataclass
class Cluster:
    srv: Any
    apps: Any  # kubernetes.client.AppsV1Api
    kubeconfig: str
    namespace: str

    def read(self) -> dict[str, Any]:
        response = self.apps.read_namespaced_deployment(DEPLOYMENT, self.namespace, _preload_content=False)
        return json.loads(response.data)

    def write_status(self, dep: dict[str, Any], status: dict[str, Any]) -> tuple[float, float]:
        """PUT the status subresource; (wall time sent, wall time the response arrived)."""
        body = {**dep, "status": status}
        sent = time.time()
        self.apps.replace_namespaced_deployment_status(
            DEPLOYMENT, self.namespace, body, _preload_content=False
        )
        return sent, time.time()


def start_cluster(args: argparse.Namespace, workdir: Path, cleanups: contextlib.ExitStack) -> Cluster:
    from kubernetes import client, config

    standin = standin_class()
    if args.tcp_nodelay:
        set_tcp_nodelay()
    srv = standin(port=0, controller_delay=0.05).start()
    cleanups.callback(srv.stop)
    quiet_resets(srv.httpd)
    kubeconfig = str(srv.write_kubeconfig(workdir / "kubeconfig"))
    api = config.new_client_from_config(config_file=kubeconfig, persist_config=False)
    cleanups.callback(api.close)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    apps.create_namespaced_deployment(namespace, deployment_body(args.replicas))
    cluster = Cluster(srv, apps, kubeconfig, namespace)
    wait_for(lambda: is_available(cluster.read()), 30, "the Deployment to become available")
    # From here on the simulated controller leaves the Deployment alone: its status changes only
    # when this script writes it, so the time of each change is known exactly.
    srv.sim.paused = True
    time.sleep(0.3)  # let a controller step that was under way finish
    return cluster


def is_available(dep: dict[str, Any]) -> bool:
    st, want = dep.get("status") or {}, dep["spec"]["replicas"]
    return (
        int(st.get("observedGeneration") or 0) >= dep["metadata"]["generation"]
        and st.get("updatedReplicas") == want
        and st.get("availableReplicas") == want
    )


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(POLL_SECONDS)
    raise RuntimeError(f"timed out after {timeout:g}s waiting for {what}")


# --- The steps of one rollout ----------------------------------------------------------------


def condition(ctype: str, reason: str, message: str) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"type": ctype, "status": "True", "reason": reason, "message": message,
            "lastUpdateTime": now, "lastTransitionTime": now}  # fmt: skip


def rollout_steps(replicas: int, generation: int) -> list[tuple[dict[str, int], str]]:
    """What a rolling update (maxSurge 1) looks like, one controller status write per step:
    (replica counts, Progressing reason). Each differs from the one before it, and from what
    the dashboard saw last, so each is one recorded change; the last one completes the rollout."""
    surge = replicas + 1
    steps = [
        ({"replicas": surge, "updatedReplicas": k, "readyReplicas": replicas, "availableReplicas": replicas},
         "ReplicaSetUpdated")
        for k in range(replicas)
    ]  # fmt: skip
    steps += [
        ({"replicas": surge, "updatedReplicas": replicas, "readyReplicas": replicas,
          "availableReplicas": replicas}, "ReplicaSetUpdated"),
        ({"replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas - 1,
          "availableReplicas": replicas - 1}, "ReplicaSetUpdated"),
        ({"replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas,
          "availableReplicas": replicas}, "NewReplicaSetAvailable"),
    ]  # fmt: skip
    return [({**counts, "observedGeneration": generation}, reason) for counts, reason in steps]


def step_status(counts: dict[str, int], reason: str, tag: str) -> dict[str, Any]:
    progressing = "has successfully progressed" if reason == "NewReplicaSetAvailable" else "is progressing"
    return {
        **counts,
        "conditions": [
            condition("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
            condition("Progressing", reason, f'ReplicaSet "{DEPLOYMENT}-{tag}" {progressing}. [{tag}]'),
        ],
    }


# --- The dashboard ---------------------------------------------------------------------------


def prepare_dashboard(cluster: Cluster) -> tuple[Any, Any, Any]:
    """A user, a model version, an application and the Kubernetes environment."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from builds import services as build_services
    from core.management.commands.createuser import create_user_with_role
    from models_registry import services as model_services
    from releases import services
    from releases.models import Environment

    user = create_user_with_role(USER, "release-manager", uuid.uuid4().hex)
    model = model_services.create_model("bench-rollout-model", actor=user)
    upload = SimpleUploadedFile("model.json", b'{"weights": [0.1, 0.2]}')
    info = model_services.VersionInfo(metrics={"auc": 0.9}, filename="model.json")
    version, _ = model_services.register_uploaded_version(model, upload, info, actor=user)
    application = build_services.create_application(
        {"name": "bench-rollout", "repository_url": str(REPO), "image_repository": "bench-rollout",
         "model": model},
        actor=user,
    )  # fmt: skip
    environment = services.create_environment(
        {
            "application": application,
            "name": "prod",
            "target_kind": Environment.TargetKind.KUBERNETES,
            "target_config": {"namespace": cluster.namespace, "deployment": DEPLOYMENT,
                              "container": CONTAINER, "kubeconfig": cluster.kubeconfig},
            "required_approvals": 0,
            "rollout_timeout": 600,
            "auto_rollback": False,
        },
        actor="system:bench",  # trusted like a server-side command: no second person for the rules
    )  # fmt: skip
    return user, version, environment


# --- Measuring -------------------------------------------------------------------------------


@dataclass
class Change:
    tag: str
    round: int
    final: bool  # the step that completes the rollout (its status needs no pod listing)
    sent: float  # wall time the status write was sent: the reference point
    answered: float  # ... and its response arrived
    seen: float | None = None  # when the polling reader here first saw the event
    recorded: float | None = None  # the event's ``at``, set by the worker

    @property
    def latency(self) -> float | None:
        return None if self.recorded is None else self.recorded - self.sent


class Bench:
    def __init__(self, args: argparse.Namespace, cluster: Cluster, worker: subprocess.Popen[bytes],
                 worker_log: Path, dashboard: tuple[Any, Any, Any]) -> None:  # fmt: skip
        self.args, self.cluster, self.worker, self.worker_log = args, cluster, worker, worker_log
        self.user, self.version, self.environment = dashboard
        self.random = random.Random(args.seed)
        self.changes: list[Change] = []
        self.started_at = 0.0

    def run(self) -> None:
        per_round = self.args.replicas + 3
        rounds = math.ceil(self.args.changes / per_round)
        for number in range(1, rounds + 1):
            remaining = self.args.changes - len(self.changes)
            self.one_round(number, min(per_round, remaining))
            print(f"  round {number}/{rounds}: {len(self.changes)} changes so far", flush=True)
        self.read_recorded()

    def one_round(self, number: int, count: int) -> None:
        from core.models import JobRun
        from releases.models import Release

        since = self.last_request_seq()
        release = self.request_release(number)
        self.wait_for_watch(release, since)
        generation = self.cluster.read()["metadata"]["generation"]
        # A shorter last round skips the first steps: every step still differs from the one before.
        self.started_at = self.started_at or time.time()
        for index, (counts, reason) in enumerate(rollout_steps(self.args.replicas, generation)[-count:]):
            self.pause()
            tag = f"r{number}s{index}-{uuid.uuid4().hex[:6]}"
            dep = self.cluster.read()
            sent, answered = self.cluster.write_status(dep, step_status(counts, reason, tag))
            change = Change(tag, number, reason == "NewReplicaSetAvailable", sent, answered)
            self.changes.append(change)
            change.seen = self.poll_for(release.pk, tag)

        def finished() -> bool:
            release.refresh_from_db()
            return release.state not in (Release.State.QUEUED, Release.State.DEPLOYING)

        self.wait_or_explain(finished, 60, f"release #{release.pk} to finish")
        if release.state != Release.State.SUCCEEDED:
            raise RuntimeError(f"release #{release.pk} ended {release.state}: {release.state_reason}")
        # The next release is requested only once this job run has ended: one requested while the
        # run is still looking for more work is picked up by the periodic tick (not running
        # here) instead, and that wait is not what this benchmark measures.
        runs = JobRun.objects.filter(name="releases.jobs.process_environment", status__in=JobRun.ACTIVE)
        self.wait_or_explain(lambda: not runs.exists(), 60, "the deploy job run to end")

    def request_release(self, number: int) -> Any:
        from builds.models import Image
        from releases import services

        reference = image_reference(f"round-{number}")
        image = Image.objects.create(
            repository=IMAGE_REPOSITORY,
            digest=reference.split("@")[1],
            reference=reference,
            application=self.environment.application,
            model_version=self.version,
            commit=hashlib.sha1(reference.encode()).hexdigest(),
        )
        return services.request_release(self.environment, image=image, actor=self.user)

    def last_request_seq(self) -> int:
        requests = list(self.cluster.srv.requests)
        return requests[-1]["seq"] if requests else 0

    def wait_for_watch(self, release: Any, since: int) -> None:
        """Until the worker has patched the Deployment and opened its watch (the stand-in's request
        log says so): a change written earlier would be found by the watch's initial list instead."""
        from integrations.deploy.kubernetes_api import USER_AGENT

        def watching() -> bool:
            return any(
                entry["seq"] > since
                and (entry.get("userAgent") or "").startswith(USER_AGENT)
                and "true" in (entry.get("query") or {}).get("watch", [])
                for entry in list(self.cluster.srv.requests)
            )

        self.wait_or_explain(watching, 60, f"release #{release.pk} to start watching")

    def pause(self) -> None:
        time.sleep(self.random.uniform(0.1, 0.5))

    def poll_for(self, release_id: int, tag: str) -> float | None:
        from releases.models import RolloutEvent

        events = RolloutEvent.objects.filter(release_id=release_id).order_by("pk")
        deadline = time.monotonic() + self.args.miss_after
        last_id = 0
        while time.monotonic() < deadline:
            for pk, detail in events.filter(pk__gt=last_id).values_list("pk", "detail"):
                last_id = pk
                if tag_of(detail) == tag:
                    return time.time()
            time.sleep(POLL_SECONDS)
        return None

    def wait_or_explain(self, check: Callable[[], Any], timeout: float, what: str) -> None:
        def done_or_worker_gone() -> bool:
            if self.worker.poll() is not None:
                raise RuntimeError(f"the worker exited ({self.worker.returncode})")
            return bool(check())

        try:
            wait_for(done_or_worker_gone, timeout, what)
        except RuntimeError as exc:
            tail = self.worker_log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{exc}\n--- worker log (tail) ---\n{tail}") from None

    def read_recorded(self) -> None:
        """Each change's first RolloutEvent (by ``at``) that carries its tag."""
        from releases.models import RolloutEvent

        by_tag = {change.tag: change for change in self.changes}
        environment_events = RolloutEvent.objects.filter(release__environment=self.environment)
        for at, detail in environment_events.order_by("at", "pk").values_list("at", "detail"):
            change = by_tag.get(tag_of(detail) or "")
            if change is not None and change.recorded is None:
                change.recorded = at.timestamp()


def tag_of(detail: dict[str, Any]) -> str | None:
    for cond in (detail or {}).get("conditions") or []:
        message = cond.get("message") or ""
        if cond.get("type") == "Progressing" and message.endswith("]") and "[" in message:
            return message[message.rindex("[") + 1 : -1]
    return None


# --- Report ----------------------------------------------------------------------------------


def describe(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    ms = [s * 1000 for s in samples]
    return (
        f"median {statistics.median(ms):7.1f} ms   p95 {percentile(ms, 95):7.1f} ms   "
        f"max {max(ms):7.1f} ms   min {min(ms):6.1f} ms"
    )


def print_report(bench: Bench, database: str) -> None:
    changes = bench.changes
    recorded = [c for c in changes if c.latency is not None]
    missed = [c for c in changes if c.latency is None]
    late = [c for c in recorded if c.seen is None]
    latencies = [c.latency for c in recorded if c.latency is not None]
    rounds = len({c.round for c in changes})
    print(f"\n{len(changes)} status changes over {rounds} rollouts ({database}):")
    late_note = f", {len(late)} recorded only after {bench.args.miss_after:g} s" if late else ""
    print(f"  recorded {len(recorded)}, missed {len(missed)}{late_note}")
    print(f"  write -> RolloutEvent.at          {describe(latencies)}")
    for final, label in ((False, "progressing steps"), (True, "rollout-complete steps")):
        samples = [c.latency for c in recorded if c.final == final and c.latency is not None]
        print(f"    {label + f' ({len(samples)})':<31} {describe(samples)}")
    seen = [c.seen - c.sent for c in changes if c.seen is not None]
    print(
        f"  write -> visible to a reader      {describe(seen)}  (polled every {POLL_SECONDS * 1000:.0f} ms)"
    )
    print(f"  the status PUT round trip         {describe([c.answered - c.sent for c in changes])}")
    if missed:
        print("  missed: " + ", ".join(c.tag for c in missed[:10]) + (" ..." if len(missed) > 10 else ""))
    slowest = sorted(recorded, key=lambda c: c.latency or 0)[-3:]
    print("  slowest: " + ", ".join(f"{c.tag} {(c.latency or 0) * 1000:.0f} ms" for c in reversed(slowest)))
    print_requests(bench)
    if missed:
        print(f"  {len(missed)} change(s) never recorded: the goal is not met")
    elif latencies:
        p95 = percentile(latencies, 95)
        verdict = "meets" if p95 < GOAL_SECONDS else "MISSES"
        print(f"  p95 {p95 * 1000:.0f} ms {verdict} the goal of under {GOAL_SECONDS:g} s")


def print_requests(bench: Bench) -> None:
    """What the dashboard asked the API server for while the changes were timed."""
    from integrations.deploy.kubernetes_api import USER_AGENT

    counts: dict[str, int] = {}
    for entry in list(bench.cluster.srv.requests):
        if entry["time"] < bench.started_at or not (entry.get("userAgent") or "").startswith(USER_AGENT):
            continue
        query, path = entry.get("query") or {}, entry["path"]
        if "true" in query.get("watch", []):
            kind = "watch opened"
        elif entry["method"] != "GET":
            kind = entry["method"]
        else:
            kind = "get/list " + next(
                (r for r in ("replicasets", "pods", "deployments") if f"/{r}" in path), path
            )
        counts[kind] = counts.get(kind, 0) + 1
    text = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
    print(f"  API requests by the dashboard meanwhile: {text}")


# --- Main ------------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path, cleanups: contextlib.ExitStack) -> None:
    # The env is shared by this process and the worker it starts.
    benchlib.start_dashboard(
        args, workdir, cleanups, database_name=PG_DB_NAME, drop=INHERITED_TO_DROP,
        PORT=str(benchlib.free_port()), LOG_LEVEL="warning", PYTHONUNBUFFERED="1",
    )  # fmt: skip
    cluster = start_cluster(args, workdir, cleanups)
    dashboard = prepare_dashboard(cluster)
    worker_log = workdir / "worker.log"
    worker = benchlib.start_runstack_process("worker-deploys", worker_log)
    # rq starts the work horse in a session of its own: a horse still watching a rollout would
    # outlive a signal to the worker's process group.
    cleanups.callback(benchlib.stop_process, worker, with_descendants=True)
    database = f"PostgreSQL {PG_DB_NAME}" if args.database_url else "SQLite (WAL)"
    print(
        "Rollout latency: Deployment status change -> RolloutEvent recorded by the dashboard; goal "
        f"p95 < {GOAL_SECONDS:g} s (for scale: Argo CD polls Git every 3 min by default, Kargo 5 min)"
    )
    nodelay = ", TCP_NODELAY" if args.tcp_nodelay else ""
    print(
        f"Stand-in {cluster.srv.url} (controller paused{nodelay}; this script writes the status), deployment "
        f"{cluster.namespace}/{DEPLOYMENT} with {args.replicas} replicas; {database}; "
        "one rqworker (deploys) as in runstack"
    )
    print_load("before")
    bench = Bench(args, cluster, worker, worker_log, dashboard)
    bench.run()
    print_report(bench, database)
    print_load("after")


def main() -> int:
    return benchlib.run_cleaned_up(functools.partial(run, parse_args()), prefix="bench-rollout-")


if __name__ == "__main__":
    sys.exit(main())
