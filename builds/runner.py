"""Running one build on its build service, streaming its log, recording its image.

Called by the ``builds.jobs.run_build`` job. A build asked for a branch's head or a sha
prefix first resolves its commit here (web requests never run git); one whose commit turns
out to be built already with its model version ends cancelled as that build's duplicate.
The local builder runs inside the worker; an external service (Azure DevOps) is queued once
(``find`` picks up a run queued by an earlier attempt) and polled until it ends. Temporary
failures (git, registry or service unreachable) send the build back to the queue for the job
runner's next attempt; after the last attempt, and on any permanent failure, the build fails
with the reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from builds import gitwork, services
from builds.history import RecordedHistory
from builds.models import Application, Build, Image, ImageTag
from core import adapters, jobrunner
from core.errors import ServiceError
from core.heartbeat import Heartbeat
from core.redaction import web_url
from integrations.buildservice.base import BuildRequest, BuildService, BuildState
from integrations.errors import Cancelled, IntegrationError, PermanentError, TemporaryError
from integrations.git import redact_url

logger = logging.getLogger(__name__)
ACTOR = "job:run_build"


class BuildLog:
    """Appends lines to the build's log in small batches, and beats the build's heartbeat."""

    def __init__(self, build: Build, flush_every: float = 0.5) -> None:
        self.build_id = build.pk
        self.pending: list[str] = []
        self.size = len(build.log)
        self.flush_every = flush_every
        self.last_flush = time.monotonic()

    def __call__(self, line: str) -> None:
        self.pending.append(line.rstrip("\n") + "\n")
        if time.monotonic() - self.last_flush >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        text, self.pending = "".join(self.pending), []
        self.last_flush = time.monotonic()
        if self.size > Build.LOG_LIMIT:
            text = ""
        elif self.size + len(text) > Build.LOG_LIMIT:
            text = text[: Build.LOG_LIMIT - self.size] + "\n[log truncated: limit reached]\n"
        self.size += len(text)
        fields: dict[str, Any] = {"heartbeat_at": timezone.now()}
        if text:
            fields["log"] = Concat(F("log"), Value(text))
        Build.objects.filter(pk=self.build_id).update(**fields)


def build_heartbeat(build_id: int, every: float = 20.0) -> Heartbeat:
    """Beats the build's heartbeat while it runs, even through long silent steps.

    The stall recovery job requeues running builds whose heartbeat stopped: their worker died.
    """

    def beat() -> None:
        Build.objects.filter(pk=build_id, state=Build.State.RUNNING).update(heartbeat_at=timezone.now())

    return Heartbeat(f"heartbeat-build-{build_id}", every, beat)


def cancel_requested(build_id: int) -> Callable[[], bool]:
    def check() -> bool:
        return Build.objects.filter(pk=build_id, cancel_requested=True).exists()

    return check


def build_request(build: Build) -> BuildRequest:
    application, version = build.application, build.model_version
    return BuildRequest(
        build_id=build.pk,
        application=application.name,
        repository_url=application.repository_url,
        commit=build.commit,
        model_name=version.model.name,
        model_version=version.version,
        model_uri=adapters.model_store().uri(version.storage_key, version_id=version.blob_version_id),
        model_sha256=version.sha256,
        image_repository=application.image_repository,
        image_tag=build.image_tag,
        test_command=application.test_command,
        model_key=version.storage_key,
        model_version_id=version.blob_version_id,
        model_etag=version.etag,
        model_filename=version.filename or "model.bin",
        command=application.command,
        port=application.port,
        app_path=application.app_path,
        base_image=application.base_image,
    )


def run_build(build_id: int) -> str:
    build = services.get_build(build_id)
    if build.cancel_requested and build.state == Build.State.QUEUED:
        services.transition(
            build, Build.State.CANCELLED, actor=ACTOR, failure_reason="cancelled before it started"
        )
        return "cancelled"
    if not services.transition(build, Build.State.RUNNING, actor=ACTOR, heartbeat_at=timezone.now()):
        return f"skipped: build is {build.state}"
    log = BuildLog(build)
    log(
        f"== build #{build.pk} attempt {build.attempt}: {build.application} @ {build.commit or build.requested} with {build.model_version}"
    )
    try:
        with build_heartbeat(build.pk):
            if not build.commit and (existing := _resolve(build, log)):
                return f"duplicate of build #{existing.pk}"
            image = _run(build, log)
            history = gitwork.read_history(build)
    except TemporaryError as exc:
        return _temporary_failure(build, log, exc)
    except Cancelled as exc:
        return _fail(build, log, str(exc), cancelled=True)
    except IntegrationError as exc:
        return _fail(build, log, str(exc))
    except ServiceError as exc:  # e.g. the build service is not configured
        return _fail(build, log, exc.message)
    except Exception as exc:
        logger.exception("build %s crashed", build.pk)
        _fail(build, log, f"internal error: {type(exc).__name__}: {exc}")
        raise
    log(f"== image {image.reference}")
    _log_history(log, history)
    log.flush()
    services.finish_build(build, image, history, actor=ACTOR)
    return "succeeded"


def _resolve(build: Build, log: BuildLog) -> Build | None:
    """Find the commit the build was asked for; the existing build when it is a duplicate."""
    log(f"== resolving {build.requested} in {redact_url(build.application.repository_url)}")
    sha = gitwork.resolve_requested(build)
    existing = services.record_commit(build, sha, actor=ACTOR)
    if existing:
        log(
            f"== {sha} with {build.model_version} was built by build #{existing.pk}: this one is its duplicate"
        )
        log.flush()
        return existing
    build.refresh_from_db()
    log(f"== {build.requested} is {sha}")
    return None


def _log_history(log: BuildLog, history: RecordedHistory) -> None:
    if history.error:
        log(f"== commit list not recorded: {history.error}")
    else:
        more = "" if history.complete else " (older ones not kept)"
        log(f"== recorded the last {len(history.commits)} commits{more}")


def _run(build: Build, log: BuildLog) -> Image:
    if build.application.build_service == Application.BuildService.LOCAL:
        return _run_local(build, log)
    return _run_external(build, log)


def _run_local(build: Build, log: BuildLog) -> Image:
    from integrations.buildservice.local import LocalBuilder

    builder = LocalBuilder(
        adapters.registry(), adapters.model_store(), settings.BUILD_WORKDIR, adapters.git_cache()
    )
    result = builder.run(build_request(build), log=log, cancelled=cancel_requested(build.pk))
    return _record(build, result.image.repository, result.image.digest)


def _run_external(build: Build, log: BuildLog) -> Image:
    service = adapters.build_service(build.application.build_service)
    request = build_request(build)
    run = service.find(build.pk) or service.queue(request)
    # A link other people open: stored only when it is a web address (never javascript: or data:).
    Build.objects.filter(pk=build.pk).update(external_id=run.external_id, external_url=web_url(run.url))
    log(f"== {service.kind} run {run.external_id}: {run.url}")
    position, deadline, cancel_sent = 0, time.monotonic() + settings.BUILD_TIMEOUT, False
    while not run.is_terminal:
        if time.monotonic() > deadline:
            service.cancel(run.external_id)
            raise PermanentError(f"timed out after {settings.BUILD_TIMEOUT}s; the run was cancelled")
        if not cancel_sent and cancel_requested(build.pk)():
            service.cancel(run.external_id)
            cancel_sent = True
            log("== cancel requested; asked the build service to cancel the run")
        time.sleep(settings.BUILD_POLL_SECONDS)
        position = _copy_logs(service, run.external_id, position, log)
        run = service.get(run.external_id)
    _copy_logs(service, run.external_id, position, log)
    if run.state == BuildState.CANCELLED:
        raise Cancelled(run.result_reason or "cancelled in the build service")
    if run.state != BuildState.SUCCEEDED:
        raise PermanentError(run.result_reason or f"the {service.kind} run ended {run.state}")
    registry = adapters.registry()
    digest = registry.resolve(request.image_repository, request.image_tag)
    log(f"== {request.image_repository}:{request.image_tag} is {digest}")
    return _record(build, request.image_repository, digest)


def _copy_logs(service: BuildService, external_id: str, position: int, log: BuildLog) -> int:
    lines = service.logs(external_id, since_line=position)
    for line in lines:
        log(line)
    return position + len(lines)


def _record(build: Build, repository: str, digest: str) -> Image:
    registry = adapters.registry()
    config = registry.get_config(repository, digest)
    image = services.record_image(
        repository=repository,
        digest=digest,
        reference=registry.reference(repository, digest),
        labels=config.labels,
        application=build.application,
        source=Image.Source.BUILD,
        created=config.created,
        actor=ACTOR,
    )
    ImageTag.objects.update_or_create(
        repository=repository, tag=build.image_tag, defaults={"image": image, "seen_at": timezone.now()}
    )
    return image


def _fail(build: Build, log: BuildLog, reason: str, *, cancelled: bool = False) -> str:
    log(f"== {'cancelled' if cancelled else 'failed'}: {reason}")
    log.flush()
    state = Build.State.CANCELLED if cancelled else Build.State.FAILED
    services.transition(build, state, actor=ACTOR, failure_reason=reason)
    return state


def _temporary_failure(build: Build, log: BuildLog, exc: TemporaryError) -> str:
    if jobrunner.is_last_attempt():
        return _fail(build, log, f"gave up after repeated temporary failures: {exc}")
    log(f"== temporary failure, will retry: {exc}")
    log.flush()
    services.transition(build, Build.State.QUEUED, actor=ACTOR, failure_reason=f"retrying after: {exc}")
    raise exc
