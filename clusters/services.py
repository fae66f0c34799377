"""Every write to clusters, each audited; credentials are recorded only as "set" or "changed".

A cluster's name never changes once made: environments name it in their target settings.
Deleting a cluster that an environment names is refused (``releases`` guards its references).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clusters.models import Cluster
from core import audit, jobrunner
from core.audit import Actor
from core.errors import ConflictError, NotFoundError, ServiceError

SECRETS = Cluster.SECRET_FIELDS
NAMESPACE_MAX = 63


class ClusterInUse(ConflictError):
    """Raised (by whoever holds references to clusters) when a cluster still has users."""


def get_cluster(pk: int) -> Cluster:
    found = Cluster.objects.filter(pk=pk).first()
    if found is None:
        raise NotFoundError(f"No cluster #{pk}.")
    return found


def _apply(cluster: Cluster, fields: dict[str, Any]) -> None:
    for name in Cluster.EDITABLE_FIELDS:
        value = fields.get(name)
        if name in SECRETS and value is None:
            continue  # absent or null keeps the stored credential; "" removes it
        if name in fields:
            setattr(cluster, name, value if value is not None else "")
    try:
        cluster.full_clean(validate_unique=False)  # a duplicate name is a 409, below
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ServiceError(" ".join(messages), field=None if field == NON_FIELD_ERRORS else field) from None


def create_cluster(fields: dict[str, Any], *, actor: Actor) -> Cluster:
    cluster = Cluster()
    _apply(cluster, fields)
    try:
        with transaction.atomic():
            cluster.save()
            after = audit.without_secrets(cluster.audit_state(), SECRETS)
            audit.record("cluster.create", cluster, actor=actor, after=after)
    except IntegrityError:
        raise ConflictError(f"A cluster named {cluster.name!r} already exists.", field="name") from None
    return cluster


def update_cluster(cluster: Cluster, fields: dict[str, Any], *, actor: Actor) -> Cluster:
    with transaction.atomic():
        cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
        if "name" in fields and fields["name"] != cluster.name:
            raise ServiceError("A cluster's name cannot change: environments name it.", field="name")
        before = cluster.audit_state()
        _apply(cluster, fields)
        cluster.save()
        audit.record_update(
            "cluster.update",
            cluster,
            actor=actor,
            before=before,
            after=cluster.audit_state(),
            secrets=SECRETS,
        )
    return cluster


def delete_cluster(cluster: Cluster, *, actor: Actor) -> None:
    """Remove an unused cluster (``ClusterInUse``, a 409, when an environment names it)."""
    with transaction.atomic():
        cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
        before = audit.without_secrets(cluster.audit_state(), SECRETS)
        audit.record("cluster.delete", cluster, actor=actor, before=before)
        cluster.delete()


def request_connection_test(cluster: Cluster, namespace: str, *, actor: Actor) -> Cluster:
    """Queue a connection test (a job: web requests never call the cluster)."""
    from clusters.models import NAME

    if not NAME.match(namespace or ""):
        raise ServiceError("Name the namespace to check permissions in, e.g. churn-prod.", field="namespace")
    with transaction.atomic():
        cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
        cluster.check_state = Cluster.CheckState.CHECKING
        cluster.check_namespace = namespace
        cluster.save(update_fields=["check_state", "check_namespace"])
        audit.record("cluster.test", cluster, actor=actor, after={"namespace": namespace})
        jobrunner.enqueue(
            "clusters.jobs.test_connection",
            cluster.pk,
            namespace,
            queue="default",
            related=cluster,
            actor=actor,
        )
    return cluster


def record_connection_test(
    cluster_id: int, namespace: str, *, ok: bool, reason: str, verbs: dict[str, str]
) -> None:
    """Store what a connection test found (the job calls this)."""
    Cluster.objects.filter(pk=cluster_id).update(
        check_state=Cluster.CheckState.OK if ok else Cluster.CheckState.FAILED,
        check_reason=reason[:2000],
        check_namespace=namespace,
        check_verbs=verbs,
        checked_at=timezone.now(),
    )
