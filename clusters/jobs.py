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
    try:
        report = adapters.check_cluster(cluster.access_values(), namespace)
    except Exception as exc:  # an answer the client cannot read: the cluster must not stay "testing"
        reason = f"the connection test failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        services.record_connection_test(cluster_id, namespace, ok=False, reason=reason, verbs={})
        raise
    services.record_connection_test(
        cluster_id, namespace, ok=report.ok, reason=report.reason, verbs=report.verbs
    )
    return report.reason
