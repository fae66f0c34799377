"""Which permissions of clusters each role has (collected by core.roles).

Everyone with a role may see the clusters (never their credentials); only admins (superusers,
who hold every permission) add, change, test or delete them: no role is given those.
"""

PERMISSIONS = {"*": ["clusters.view_cluster"]}
