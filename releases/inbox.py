"""Who may approve which waiting release: the rules, applied to a whole page in constant queries.

The user's groups are read once for the page (asking per release cost two queries a row: 232
for 110 waiting releases). ``releases.services.can_approve`` asks the same for one release.
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
