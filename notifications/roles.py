"""Which permissions of notifications each role has (collected by core.roles).

Release managers (and admins) manage channels and send tests; everyone with a role may see
the channels (never their URL's credential part or secret) and their delivery logs, so
on-call and data scientists can tell whether a message went out.
"""

PERMISSIONS = {
    "*": ["notifications.view_notificationchannel", "notifications.view_delivery"],
    "release-manager": [
        "notifications.add_notificationchannel",
        "notifications.change_notificationchannel",
        "notifications.delete_notificationchannel",
    ],
}
