"""What workers run for clusters."""

from __future__ import annotations

from django.utils import timezone

from clusters import services
from clusters.models import Cluster
from core import adapters, jobrunner


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


def fail_abandoned_tests() -> list[int]:
    """Periodic: a cluster whose latest connection test the job runner gave up on (the worker of
    its last attempt was lost) shows the test failed, with the reason, instead of "testing"."""
    checking = Cluster.objects.filter(check_state=Cluster.CheckState.CHECKING)
    failed = []
    for cluster, error in jobrunner.given_up_on(test_connection, checking):
        reason = f"the connection test was given up: {error}"[:2000]
        if checking.filter(pk=cluster.pk).update(
            check_state=Cluster.CheckState.FAILED,
            check_reason=reason,
            check_verbs={},
            checked_at=timezone.now(),
        ):
            failed.append(cluster.pk)
    return failed
