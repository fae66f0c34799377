"""Background jobs of builds (run by the django-rq workers through core.jobrunner)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from builds import gitwork, runner, services, tagsync, triggers
from builds.models import Application, Build
from core import jobrunner
from integrations.errors import PermanentError
from models_registry.models import ModelVersion


def run_build(build_id: int) -> str:
    return runner.run_build(build_id)


def build_for_new_model(application_id: int, version_id: int) -> str:
    application = Application.objects.select_related("model").get(pk=application_id)
    version = ModelVersion.objects.select_related("model").get(pk=version_id)
    return triggers.build_for_new_model(application, version)


def poll_repositories() -> list[str]:
    """Poll every application; one refused repository fails the run, after the others were polled."""
    results, refused = [], []
    for application in Application.objects.select_related("model"):
        try:
            results.append(triggers.poll_application(application))
        except PermanentError as exc:
            refused.append(f"{application}: {exc}")
    if refused:
        raise PermanentError(
            f"{len(refused)} of {len(results) + len(refused)} repositories could not be polled: "
            + "; ".join(refused[:5]),
            system="git poll",
        )
    return results


def sync_image_tags() -> dict[str, object]:
    return tagsync.sync_all().as_dict()


def recover_stalled_builds() -> list[int]:
    """Requeue running builds whose worker stopped beating (killed mid-build); idempotent."""
    cutoff = timezone.now() - timedelta(seconds=settings.BUILD_STALL_SECONDS)
    stalled = Build.objects.filter(state=Build.State.RUNNING, heartbeat_at__lt=cutoff)
    recovered = []
    for build in stalled:
        reason = f"worker stopped responding (no heartbeat since {build.heartbeat_at:%H:%M:%S}); requeued"
        if services.transition(
            build, Build.State.QUEUED, actor="job:recover_stalled_builds", failure_reason=reason
        ):
            jobrunner.enqueue(run_build, build.pk, queue="builds", related=build)
            recovered.append(build.pk)
    return recovered


def handle_push(application_id: int, commit: str) -> str:
    application = Application.objects.select_related("model").get(pk=application_id)
    return triggers.note_new_commit(
        application, commit, trigger=Build.Trigger.WEBHOOK, actor="job:handle_push"
    )


def record_missing_histories() -> dict[str, int]:
    """Record the commit list of succeeded builds that have none (built before lists were kept,
    or whose list could not be read then); one build per commit is enough for release pages."""
    missing = (
        Build.objects.filter(state=Build.State.SUCCEEDED, history_recorded_at__isnull=True)
        .exclude(commit="")
        .order_by("-finished_at", "-pk")
        .values_list("pk", "application_id", "commit")
    )
    counts, seen = {"recorded": 0, "failed": 0}, set()
    for pk, application_id, commit in list(missing):  # read first: the loop writes
        if (application_id, commit) in seen or _has_history(application_id, commit):
            continue
        seen.add((application_id, commit))
        build = services.get_build(pk)
        history = gitwork.read_history(build)
        services.record_history(build, history, actor="job:record_missing_histories")
        counts["failed" if history.error else "recorded"] += 1
    return counts


def _has_history(application_id: int, commit: str) -> bool:
    return Build.objects.filter(
        application_id=application_id, commit=commit, history_recorded_at__isnull=False
    ).exists()
