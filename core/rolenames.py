"""The role slugs and their group names, with no Django import: settings validate against them."""

from __future__ import annotations

# role slug -> group name
ROLE_GROUPS: dict[str, str] = {
    "data-scientist": "Data scientist",
    "release-manager": "Release manager",
    "on-call": "On-call",
}
ADMIN_ROLE = "admin"
