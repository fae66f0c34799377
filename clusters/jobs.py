"""What workers run for clusters."""

from __future__ import annotations

from django.utils import timezone

from clusters import services
from clusters.models import Cluster
from core import adapters, jobrunner
from core.models import JobRun


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
    failed = []
    for cluster in Cluster.objects.filter(check_state=Cluster.CheckState.CHECKING):
        runs = JobRun.objects.filter(
            name=jobrunner.dotted(test_connection), object_type="clusters.cluster", object_id=str(cluster.pk)
        )
        latest = runs.order_by("-pk").first()
        if latest is None or latest.status != JobRun.Status.FAILED:
            continue
        still_checking = Cluster.objects.filter(pk=cluster.pk, check_state=Cluster.CheckState.CHECKING)
        reason = f"the connection test was given up: {latest.error}"[:2000]
        if still_checking.update(
            check_state=Cluster.CheckState.FAILED,
            check_reason=reason,
            check_verbs={},
            checked_at=timezone.now(),
        ):
            failed.append(cluster.pk)
    return failed
