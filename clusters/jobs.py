"""What workers run for clusters."""

from __future__ import annotations

from clusters import services
from clusters.models import Cluster
from core import adapters


def test_connection(cluster_id: int, namespace: str) -> str:
    """Reach the cluster and review our permissions in ``namespace``; the result goes on the row.
    A failed test is a result to show, not a failed job: it runs once, whatever it finds."""
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return f"cluster #{cluster_id} no longer exists"
    report = adapters.check_cluster(cluster.access_values(), namespace)
    services.record_connection_test(
        cluster_id, namespace, ok=report.ok, reason=report.reason, verbs=report.verbs
    )
    return report.reason
