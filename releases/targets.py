"""The deployment target of an environment, built from its settings."""

from __future__ import annotations

from django.conf import settings

from builds.integration import get_registry
from dashboard.errors import ServiceError
from integrations.deploy.base import DeploymentTarget
from releases.models import Environment


def target_for(environment: Environment) -> DeploymentTarget:
    config = environment.target_config or {}
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

    port = config.get("port")
    if not isinstance(port, int) or not 1024 <= port <= 65535:
        raise ServiceError(
            f"{environment}: a local target needs a port between 1024 and 65535 in its settings."
        )
    state_dir = settings.VAR_DIR / "environments" / f"{environment.application.name}-{environment.name}"
    return LocalProcessTarget(
        get_registry(), state_dir, port, health_timeout=float(config.get("health_timeout", 60))
    )


def validate_target_config(kind: str, config: dict) -> dict:
    """Clear errors for settings a target cannot work with."""
    if not isinstance(config, dict):
        raise ServiceError("target_config must be a JSON object.", field="target_config")
    if kind == Environment.TargetKind.LOCAL:
        port = config.get("port")
        if not isinstance(port, int) or not 1024 <= port <= 65535:
            raise ServiceError('A local target needs {"port": <1024-65535>}.', field="target_config")
    elif kind == Environment.TargetKind.KUBERNETES:
        for key in ("namespace", "deployment"):
            if not isinstance(config.get(key), str) or not config.get(key):
                raise ServiceError(f'A Kubernetes target needs "{key}".', field="target_config")
    return config


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
