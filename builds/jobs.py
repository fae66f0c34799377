"""Background jobs of builds (run by the django-rq workers through dashboard.jobrunner)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from builds import runner, services, tagsync, triggers
from builds.models import Application, Build
from dashboard import jobrunner
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
