"""Which permissions of builds each role has (collected by core.roles)."""

PERMISSIONS = {
    "*": ["builds.view_application", "builds.view_build", "builds.view_image"],
    "data-scientist": ["builds.trigger_build"],
    "release-manager": [
        "builds.add_application",
        "builds.change_application",
        "builds.trigger_build",
        "builds.cancel_build",
        "builds.sync_images",
    ],
}
