"""The approvals inbox: who may approve which waiting release, in a constant number of queries.

``releases.services.can_approve`` answers for one release and asks the database about the
user's groups each time (two queries per row: 232 for 110 waiting releases). Here the user's
groups are read once and the same rules, with the same words, are applied to a whole page.
A test holds the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from releases.models import Release


def approval_refusals(releases: Iterable[Release], user: Any) -> dict[int, str | None]:
    """Why ``user`` may not approve each release (None where they may), by release id.

    The releases should come with ``environment__approver_group`` selected.
    """
    if not user.has_perm("releases.approve_release"):
        return dict.fromkeys((r.pk for r in releases), "Your role does not allow approving releases.")
    group_ids = set(user.groups.values_list("pk", flat=True))
    return {release.pk: _refusal(release, user, group_ids) for release in releases}


def _refusal(release: Release, user: Any, group_ids: set[int]) -> str | None:
    environment = release.environment
    group = environment.approver_group
    if group is not None and not user.is_superuser and group.pk not in group_ids:
        return f"Approvals for {environment} come from the {group.name} group."
    if release.requested_by_id == user.pk and not environment.allow_self_approval:
        return "You requested this release; someone else has to approve it (four-eyes)."
    return None
