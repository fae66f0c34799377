"""Guards for rows of lower apps that environments refer to by name."""

from __future__ import annotations

from typing import Any

from clusters.models import Cluster
from clusters.services import ClusterInUse
from releases.models import Environment


def refuse_deleting_a_cluster_in_use(sender: Any, instance: Cluster, **kwargs: Any) -> None:
    """An environment names its cluster in ``target_config``; deleting it would strand it."""
    users = Environment.objects.filter(
        target_kind=Environment.TargetKind.KUBERNETES, target_config__cluster=instance.name
    ).select_related("application")
    if users:
        names = ", ".join(str(environment) for environment in users[:10])
        raise ClusterInUse(f"Cluster {instance.name} is in use by {names}; point them elsewhere first.")
