"""The deployment target of an environment, built from its settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clusters.models import Cluster
from core import adapters
from integrations.deploy.base import DeploymentTarget
from releases import target_settings
from releases.models import Environment

if TYPE_CHECKING:
    from integrations.deploy.local import LocalProcessTarget


def target_for(environment: Environment) -> DeploymentTarget:
    """The environment's deployment target, its settings checked first."""
    config = validate_target_config(environment.target_kind, environment.target_config or {})
    name = f"{environment.application.name}-{environment.name}"
    cluster = None
    if environment.target_kind == Environment.TargetKind.KUBERNETES and config.get("cluster"):
        cluster = Cluster.objects.get(name=config["cluster"]).access_values()
    return adapters.deployment_target(environment.target_kind, config, name=name, cluster=cluster)


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
            _local_target(environment).start()
        except Exception as exc:  # one broken environment must not stop the others
            notes.append(f"{environment}: not resumed: {exc}")
        else:
            notes.append(f"{environment}: serving at {target_for(environment).url()}")
    return notes


def suspend_local_environments() -> None:
    """Stop the local environments' processes but remember what they run (``make run`` stopping)."""
    for environment in Environment.objects.filter(target_kind=Environment.TargetKind.LOCAL):
        try:
            _local_target(environment).stop(keep_release=True)
        except Exception:  # best effort on the way out; the next start cleans leftovers
            continue


def _local_target(environment: Environment) -> LocalProcessTarget:
    from integrations.deploy.local import LocalProcessTarget

    target = target_for(environment)
    if not isinstance(target, LocalProcessTarget):
        raise TypeError(f"{environment} does not deploy to a local process")
    return target
