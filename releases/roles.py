"""Which permissions of releases each role has (collected by core.roles)."""

PERMISSIONS = {
    "*": ["releases.view_environment", "releases.view_release", "releases.view_schedule"],
    "data-scientist": ["releases.add_release"],
    "release-manager": [
        "releases.add_release",
        "releases.approve_release",
        "releases.schedule_release",
        "releases.rollback_release",
        "releases.add_environment",
        "releases.change_environment",
    ],
    "on-call": ["releases.rollback_release"],
}
