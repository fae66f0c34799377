"""Rolling back: redeploy the previous good release, without approval and during a freeze."""

from __future__ import annotations

from django.db import transaction

from core import audit
from core.audit import Actor
from core.errors import ConflictError
from releases.models import Environment, Release
from releases.services.lifecycle import enqueue


def previous_good(environment: Environment, *, before: Release | None = None) -> Release | None:
    """The latest release that succeeded here and does not run the same image as ``before``."""
    current = before or environment.current_release
    queryset = Release.objects.filter(environment=environment, state=Release.State.SUCCEEDED)
    if current is not None:
        queryset = queryset.exclude(pk=current.pk).exclude(digest=current.digest)
    return queryset.select_related("image").order_by("-finished_at", "-pk").first()


def rollback(
    environment: Environment, *, actor: Actor, reason: str = "", failed: Release | None = None
) -> Release:
    """Redeploy the previous good release; needs no approval and is allowed during a freeze."""
    environment = Environment.objects.select_related("current_release").get(pk=environment.pk)
    current = failed or environment.current_release
    target = previous_good(environment, before=current)
    if target is None:
        raise ConflictError(f"{environment} has no earlier successful release to roll back to.")
    with transaction.atomic():
        release = Release.objects.create(
            environment=environment,
            kind=Release.Kind.ROLLBACK,
            build=target.build,
            image=target.image,
            digest=target.digest,
            model_version=target.model_version,
            commit=target.commit,
            requested_by=audit.user_of(actor),
            rollback_of=current,
            previous_release=environment.current_release,
            note=reason or f"roll back to release #{target.pk}",
            state=Release.State.APPROVED,
        )
        after = {"state": release.state, "digest": release.digest, "to_release": target.pk, "reason": reason}
        audit.record("release.rollback", release, actor=actor, after=after)
        enqueue(release, actor=actor, reason=reason)
    return release
