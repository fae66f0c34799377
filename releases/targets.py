"""The deployment target of an environment, built from its settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from builds.integration import get_registry
from dashboard.errors import ServiceError
from integrations.deploy.base import DeploymentTarget
from releases import target_settings
from releases.models import Environment


def target_for(environment: Environment) -> DeploymentTarget:
    config = validate_target_config(environment.target_kind, environment.target_config or {})
    if environment.target_kind == Environment.TargetKind.LOCAL:
        return _local(environment, config)
    if environment.target_kind == Environment.TargetKind.KUBERNETES:
        from integrations.deploy.kubernetes import KubernetesTarget

        return KubernetesTarget(
            config.get("namespace", "default"),
            config.get("deployment") or environment.application.name,
            config.get("container") or "app",
            kubeconfig=config.get("kubeconfig") or None,
            context=config.get("context") or None,
            in_cluster=bool(config.get("in_cluster")),
            progress_deadline=config.get("progress_deadline"),
            app_url=config.get("app_url") or None,
        )
    raise ServiceError(f"Unknown deployment target {environment.target_kind!r}.")


def _local(environment: Environment, config: dict) -> DeploymentTarget:
    from integrations.deploy.local import LocalProcessTarget

    port = config["port"]
    state_dir = settings.VAR_DIR / "environments" / f"{environment.application.name}-{environment.name}"
    return LocalProcessTarget(
        get_registry(), state_dir, port, health_timeout=float(config.get("health_timeout", 60))
    )


def validate_target_config(kind: str, config: Any) -> dict[str, Any]:
    """Clear errors for settings a target cannot work with (see ``releases.target_settings``)."""
    return target_settings.validate(kind, config)


def resume_local_environments() -> list[str]:
    """Serve each local environment's released version again (``make run`` starting)."""
    notes = []
    for environment in Environment.objects.filter(
        target_kind=Environment.TargetKind.LOCAL, current_release__isnull=False
    ):
        try:
            target_for(environment).start()
        except Exception as exc:  # one broken environment must not stop the others
            notes.append(f"{environment}: not resumed: {exc}")
        else:
            notes.append(f"{environment}: serving at {target_for(environment).url()}")
    return notes


def suspend_local_environments() -> None:
    """Stop the local environments' processes but remember what they run (``make run`` stopping)."""
    for environment in Environment.objects.filter(target_kind=Environment.TargetKind.LOCAL):
        try:
            target_for(environment).stop(keep_release=True)
        except Exception:  # best effort on the way out; the next start cleans leftovers
            continue
