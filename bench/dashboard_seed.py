"""The rows ``dashboard_load.py`` reads: applications by environments with months of releases.

Written with ``bulk_create`` and ids chosen here, so rows point at each other (a release at the
one before it, an environment at what runs there) without a second pass, and with the same
shape the services leave behind: a run period per release that became current (one open per
environment, the environment's ``current_release``), approvals where the environment needs
them, a rollback release after each rolled-back one, and an audit trail. Not through the
services: the benchmark measures reads, and this takes seconds instead of minutes.

Only the standard library is imported at module level: ``dashboard_load.py`` imports this
module before Django is set up (see benchlib.use_repo_imports), so each function imports the
models it writes.
"""

from __future__ import annotations

import bisect
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

ENVIRONMENTS = ("dev", "staging", "prod", "prod-eu")  # in promotion order
RELEASE_WEIGHTS = (4, 3, 2, 1)  # more releases early in the path than at its end
REQUIRED_APPROVALS = (0, 1, 2, 2)
PROMOTION_LAG = timedelta(hours=6)  # each step picks builds at least this much older than the last
HISTORY_DAYS = 90
MODEL_HISTORY_DAYS = 120  # model versions start before the releases that use them
DEPLOYING_EVERY = 10  # one environment in ten has a rollout in progress
WAITING_EVERY = 7  # one in seven has a release waiting for approvals or a worker
# How the releases before the last one ended, in percent.
OUTCOMES = {"succeeded": 86, "failed": 5, "rolled_back": 4, "cancelled": 2, "rejected": 2, "superseded": 1}
BATCH = 2000


@dataclass
class Options:
    applications: int
    releases: int
    model_versions: int
    models: int
    audit_events: int
    seed: int = 7


@dataclass
class Built:
    id: int
    created_at: datetime
    commit: str
    image_id: int
    digest: str
    model_version_id: int


class Event(NamedTuple):
    at: datetime
    action: str
    object_type: str
    object_id: int
    label: str
    actor: int | None
    after: dict[str, Any]


@dataclass
class Seeder:
    """The rows to write, by model, each with an id of its own choosing, and what happened to them."""

    options: Options
    user_ids: list[int]  # requesters and approvers
    now: datetime
    rng: random.Random = field(init=False)
    rows: dict[type, list[Any]] = field(default_factory=lambda: defaultdict(list))
    last_id: dict[type, int] = field(default_factory=dict)
    audit: list[Event] = field(default_factory=list)  # what happened to the rows, to pick from

    def __post_init__(self) -> None:
        self.rng = random.Random(self.options.seed)

    def new(self, model: type, **fields: Any) -> Any:
        """An unsaved row with the next free id of its table (after any rows already there)."""
        if model not in self.last_id:
            from django.db.models import Max

            self.last_id[model] = model.objects.aggregate(top=Max("id"))["top"] or 0
        self.last_id[model] += 1
        row = model(id=self.last_id[model], **fields)
        self.rows[model].append(row)
        return row

    def hex(self, digits: int) -> str:
        return f"{self.rng.getrandbits(4 * digits):0{digits}x}"

    def user(self) -> int:
        return self.rng.choice(self.user_ids)

    def remember(
        self, at: datetime, action: str, row: Any, label: str, actor: int | None, after: dict
    ) -> None:
        """An audit event to write about ``row`` (audit_events picks from these)."""
        self.audit.append(Event(at, action, type(row)._meta.label_lower, row.id, label, actor, after))


def seed(options: Options, user_ids: list[int], now: datetime) -> dict[str, int]:
    """Write the rows in one transaction; returns how many of each were written."""
    from django.db import connection, transaction

    seeder = Seeder(options, user_ids, now)
    versions = model_versions(seeder)
    counts = release_counts(seeder)
    for a, app in enumerate(applications(seeder)):
        builds = builds_of(seeder, app, versions[app.model_id])
        for order, env in enumerate(environments_of(seeder, app)):
            index = a * len(ENVIRONMENTS) + order
            history_of(seeder, env, order, builds, count=counts[(a, order)], index=index)
    audit_events(seeder)
    with transaction.atomic():
        for model, rows in seeder.rows.items():
            model.objects.bulk_create(rows, batch_size=BATCH)
        if connection.vendor == "postgresql":
            from django.core.management.color import no_style

            with connection.cursor() as cursor:  # ids were chosen here: move the sequences past them
                for sql in connection.ops.sequence_reset_sql(no_style(), list(seeder.rows)):
                    cursor.execute(sql)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # as autovacuum would soon: plans from real statistics
            cursor.execute("ANALYZE")
    return {model._meta.label: len(rows) for model, rows in seeder.rows.items()}


def model_versions(seeder: Seeder) -> dict[int, list[tuple[datetime, int]]]:
    """Registered models with their versions; {model id: [(registered at, version id)] in order}."""
    from models_registry.models import ModelVersion, RegisteredModel

    opts, rng = seeder.options, seeder.rng
    start = seeder.now - timedelta(days=MODEL_HISTORY_DAYS)
    found: dict[int, list[tuple[datetime, int]]] = {}
    for m in range(opts.models):
        model = seeder.new(RegisteredModel, name=f"model-{m}", description="churn scoring", created_at=start)
        count = opts.model_versions // opts.models + (m < opts.model_versions % opts.models)
        step = (seeder.now - start) / max(count, 1)
        found[model.id] = []
        for number in range(1, count + 1):
            created = start + step * (number - 1 + rng.random() * 0.9)
            sha = seeder.hex(64)
            version = seeder.new(
                ModelVersion,
                model_id=model.id,
                version=number,
                sha256=sha,
                size=rng.randint(2**20, 2**30),
                storage_key=f"sha256/{sha}",
                filename="model.joblib",
                framework="sklearn",
                metrics={"auc": round(rng.uniform(0.7, 0.95), 4), "f1": round(rng.uniform(0.5, 0.9), 4)},
                state=ModelVersion.State.READY,
                etag=f'"{seeder.hex(16)}"',
                created_by_id=seeder.user(),
                created_at=created,
            )
            found[model.id].append((created, version.id))
            seeder.remember(
                created,
                "model_version.create",
                version,
                f"model-{m} v{number}",
                version.created_by_id,
                {"sha256": sha, "state": "ready"},
            )
    return found


def applications(seeder: Seeder) -> list[Any]:
    from builds.models import Application
    from models_registry.models import RegisteredModel

    models = seeder.rows[RegisteredModel]
    return [
        seeder.new(
            Application,
            name=f"app-{i:02d}",
            repository_url=f"https://git.example.com/ai/app-{i:02d}.git",
            image_repository=f"ai/app-{i:02d}",
            model_id=models[i % len(models)].id,
            created_at=seeder.now - timedelta(days=HISTORY_DAYS + 1),
        )
        for i in range(seeder.options.applications)
    ]


def builds_of(seeder: Seeder, app: Any, versions: list[tuple[datetime, int]]) -> list[Built]:
    """One build (and image) per day or so over the period, each with the newest model version then."""
    from builds.models import Build, BuildCommit, Image

    rng, opts = seeder.rng, seeder.options
    # As many builds as releases to dev, the first environment (its expected share).
    count = max(1, round(opts.releases * RELEASE_WEIGHTS[0] / sum(RELEASE_WEIGHTS) / opts.applications))
    built: list[Built] = []
    registered = [at for at, _ in versions]
    for at in stratified(
        rng, seeder.now - timedelta(days=HISTORY_DAYS + 1), seeder.now - timedelta(hours=2), count
    ):
        version_id = versions[max(bisect.bisect_right(registered, at) - 1, 0)][1]
        commit, digest = seeder.hex(40), f"sha256:{seeder.hex(64)}"
        image = seeder.new(
            Image,
            repository=app.image_repository,
            digest=digest,
            application_id=app.id,
            commit=commit,
            model_version_id=version_id,
            reference=f"registry.example.com/{app.image_repository}@{digest}",
            labels={"org.opencontainers.image.revision": commit},
            discovered_at=at + timedelta(minutes=9),
        )
        build = seeder.new(
            Build,
            application_id=app.id,
            commit=commit,
            requested_ref="refs/heads/main",
            model_version_id=version_id,
            state=Build.State.SUCCEEDED,
            trigger=Build.Trigger.COMMIT,
            image_tag=f"{commit[:12]}",
            image_id=image.id,
            created_at=at,
            started_at=at + timedelta(minutes=1),
            finished_at=at + timedelta(minutes=9),
            history_recorded_at=at + timedelta(minutes=9),
        )
        # The build's commit list: its own, then those of the builds before it (newest first).
        shas = [commit] + [b.commit for b in reversed(built[-2:])]
        for position, sha in enumerate(shas):
            seeder.new(
                BuildCommit,
                build_id=build.id,
                position=position,
                sha=sha,
                author="Dev <dev@example.com>",
                authored_at=at - timedelta(hours=position * 20 + 1),
                subject=f"change {sha[:7]}",
            )
        seeder.remember(
            build.finished_at,
            "build.succeeded",
            build,
            f"build #{build.id} of {app.name}",
            None,
            {"state": "succeeded"},
        )
        built.append(Built(build.id, at, commit, image.id, digest, version_id))
    return built


def environments_of(seeder: Seeder, app: Any) -> list[Any]:
    from releases.models import Environment

    found: list[Any] = []
    for order, name in enumerate(ENVIRONMENTS):
        env = seeder.new(
            Environment,
            application_id=app.id,
            name=name,
            order=order,
            previous_id=found[-1].id if found else None,
            soak_minutes=30 if order else 0,
            required_approvals=REQUIRED_APPROVALS[order],
            allow_self_approval=False,
            created_at=seeder.now - timedelta(days=HISTORY_DAYS + 1),
        )
        env.application = app  # for labels below; not written
        found.append(env)
    return found


def stratified(rng: random.Random, start: datetime, end: datetime, count: int) -> list[datetime]:
    """``count`` instants spread over [start, end), one at random in each equal slice (so in order)."""
    step = (end - start) / max(count, 1)
    return [start + step * (i + rng.random() * 0.8) for i in range(count)]


def release_counts(seeder: Seeder) -> Counter[tuple[int, int]]:
    """How many releases each (application index, environment order) gets: weighted at random."""
    opts = seeder.options
    cells = [(a, o) for a in range(opts.applications) for o in range(len(ENVIRONMENTS))]
    weights = [RELEASE_WEIGHTS[o] for _, o in cells]
    return Counter(seeder.rng.choices(cells, weights=weights, k=opts.releases))


def history_of(seeder: Seeder, env: Any, order: int, builds: list[Built], *, count: int, index: int) -> None:
    """An environment's ``count`` releases, oldest first, with the run periods and approvals they
    imply; the ``index``-th environment of all may end with a rollout under way or a waiting release."""
    if not count:
        return
    tail = "deploying" if index % DEPLOYING_EVERY == DEPLOYING_EVERY // 2 else ""
    tail = tail or ("waiting" if index % WAITING_EVERY == WAITING_EVERY // 2 else "")
    slots = stratified(
        seeder.rng, seeder.now - timedelta(days=HISTORY_DAYS), seeder.now - timedelta(hours=3), count
    )
    if tail:
        slots[-1] = seeder.now - timedelta(minutes=seeder.rng.randint(5, 90))
    built_at = [b.created_at for b in builds]
    history = History(seeder, env, order)
    skip = False
    for i, at in enumerate(slots):
        if skip:  # this slot went to the rollback of the release before
            skip = False
            continue
        last = i == len(slots) - 1
        if last and tail == "deploying":
            state = "deploying"
        elif last and tail == "waiting":
            state = "requested" if env.required_approvals else "queued"
        else:
            state = seeder.rng.choices(list(OUTCOMES), weights=list(OUTCOMES.values()))[0]
            if state == "rejected" and not env.required_approvals:
                state = "cancelled"
        lag = PROMOTION_LAG * order
        build = builds[max(bisect.bisect_right(built_at, at - lag) - 1, 0)]
        release = history.release(at, state, build)
        if state == "rolled_back" and history.good is not None and i + 1 < len(slots) - bool(tail):
            history.rollback(release)
            skip = True
    history.close()


@dataclass
class History:
    """The releases of one environment as they happen, oldest first."""

    seeder: Seeder
    env: Any
    order: int
    current: Any = None  # what runs
    good: Any = None  # the last deploy that succeeded
    period: Any = None  # the open run period

    @property
    def label(self) -> str:
        return f"{self.env.application.name}/{self.env.name}"

    def release(self, at: datetime, state: str, build: Built) -> Any:
        from releases.models import Release

        seeder, rng = self.seeder, self.seeder.rng
        requester = seeder.user()
        release = seeder.new(
            Release,
            environment_id=self.env.id,
            build_id=build.id,
            image_id=build.image_id,
            digest=build.digest,
            model_version_id=build.model_version_id,
            commit=build.commit,
            state=state,
            requested_by_id=requester,
            requested_at=at,
            previous_release_id=self.current and self.current.id,
        )
        seeder.remember(
            at, "release.requested", release, self.release_label(release), requester, {"state": "requested"}
        )
        decided = self.approvals(release, at, requester)
        if state in ("cancelled", "superseded", "rejected"):
            release.finished_at = decided + timedelta(minutes=rng.randint(1, 240))
        elif state != "requested":
            release.queued_at = decided
        if state in ("deploying", "succeeded", "failed", "rolled_back"):
            self.rollout(release, rng.randint(2, 9))
        if state != "requested":
            seeder.remember(
                release.finished_at or release.queued_at,
                f"release.{state}",
                release,
                self.release_label(release),
                None,
                {"state": state},
            )
        if state == "succeeded":
            self.runs(release)
            self.good = release
        elif state in ("failed", "rolled_back"):
            release.state_reason = "the rollout did not become ready within 600 s (2 of 3 pods crash-looping)"
        elif state == "deploying":
            self.env.active_release_id = release.id
        return release

    def rollout(self, release: Any, minutes: int) -> None:
        release.started_at = release.queued_at + timedelta(seconds=20)
        release.applied_at = release.started_at + timedelta(seconds=15)
        release.target_change = "applied"
        if release.state == "deploying":  # under way: half the pods updated, one ready
            release.target_change = "unknown"
            release.progress = {
                "replicas": 4,
                "updated_replicas": 2,
                "ready_replicas": 1,
                "available_replicas": 1,
            }
            return
        release.finished_at = release.started_at + timedelta(minutes=minutes)
        ready = 3 if release.state == "succeeded" else 1
        release.progress = {
            "replicas": 3,
            "updated_replicas": 3,
            "ready_replicas": ready,
            "available_replicas": ready,
        }

    def approvals(self, release: Any, at: datetime, requester: int) -> datetime:
        """Each approver's decision, some minutes after the request; when the last one came."""
        from releases.models import Approval

        seeder, need = self.seeder, self.env.required_approvals
        if not need:
            return at + timedelta(seconds=5)
        count = seeder.rng.randint(0, need - 1) if release.state == "requested" else need
        if release.state == "rejected":
            count = 1
        approvers = seeder.rng.sample([pk for pk in seeder.user_ids if pk != requester], count)
        when = at
        for approver in approvers:
            when += timedelta(minutes=seeder.rng.randint(2, 40))
            decision = "reject" if release.state == "rejected" else "approve"
            approval = seeder.new(
                Approval,
                release_id=release.id,
                approver_id=approver,
                decision=decision,
                digest=release.digest,
                created_at=when,
            )
            label = self.release_label(release)
            seeder.remember(when, f"release.{decision}", release, label, approver, {"approval": approval.id})
        return when + timedelta(seconds=5)

    def rollback(self, failed: Any) -> None:
        """The automatic rollback after ``failed``: the last good release's image again."""
        from releases.models import Release

        good, at = self.good, failed.finished_at + timedelta(seconds=10)
        release = self.seeder.new(
            Release,
            environment_id=self.env.id,
            kind=Release.Kind.ROLLBACK,
            build_id=good.build_id,
            image_id=good.image_id,
            digest=good.digest,
            model_version_id=good.model_version_id,
            commit=good.commit,
            state=Release.State.SUCCEEDED,
            requested_at=at,
            queued_at=at,
            rollback_of_id=failed.id,
            previous_release_id=failed.id,
            state_reason=f"automatic rollback after release #{failed.id} failed",
        )
        self.rollout(release, 3)
        self.seeder.remember(
            release.finished_at,
            "release.succeeded",
            release,
            self.release_label(release),
            None,
            {"state": "succeeded"},
        )
        self.runs(release)

    def runs(self, release: Any) -> None:
        """``release`` became what runs: the open period ends, one of its own starts."""
        from releases.models import RunPeriod

        if self.period is not None:
            self.period.ended_at = release.finished_at
        self.period = self.seeder.new(
            RunPeriod, environment_id=self.env.id, release_id=release.id, started_at=release.finished_at
        )
        self.current = release

    def close(self) -> None:
        env = self.env
        env.current_release_id = self.current and self.current.id
        if self.current is not None:  # health as the last drift check saw it; a few degraded
            env.desired_replicas = 3
            env.ready_replicas = 2 if env.id % 13 == 0 else 3
            env.drift_checked_at = self.seeder.now - timedelta(minutes=2)

    def release_label(self, release: Any) -> str:
        return f"release #{release.id} of {self.label}"


def audit_events(seeder: Seeder) -> None:
    """Exactly ``audit_events`` events: a sample of what the rows above went through, padded with
    drift checks when they went through fewer."""
    from core.models import AuditEvent
    from releases.models import Environment

    opts, rng = seeder.options, seeder.rng
    found = seeder.audit
    if len(found) > opts.audit_events:
        found = rng.sample(found, opts.audit_events)
    envs = seeder.rows[Environment]
    start = seeder.now - timedelta(days=HISTORY_DAYS)
    while len(found) < opts.audit_events:
        env = rng.choice(envs)
        at = start + timedelta(seconds=rng.uniform(0, HISTORY_DAYS * 86400))
        label = f"{env.application.name}/{env.name}"
        found.append(Event(at, "environment.drift_checked", "releases.environment", env.id, label, None, {}))
    names = dict(_usernames(seeder.user_ids))
    for event in sorted(found, key=lambda e: e.at):
        seeder.new(
            AuditEvent,
            created_at=event.at,
            actor_id=event.actor,
            actor_name=names.get(event.actor, "system"),
            action=event.action,
            object_type=event.object_type,
            object_id=str(event.object_id),
            object_repr=event.label[:200],
            after=event.after,
            request_id=seeder.hex(32),
        )


def _usernames(ids: list[int]) -> list[tuple[int, str]]:
    from django.contrib.auth import get_user_model

    return list(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))


def timed_seed(options: Options, user_ids: list[int], now: datetime) -> tuple[dict[str, int], float]:
    started = time.perf_counter()
    counts = seed(options, user_ids, now)
    return counts, time.perf_counter() - started
