from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    """The floor every app stands on: audit trail, job runner, errors, API plumbing, roles, health.

    Its app label stays "dashboard", the name this package had: the tables, permissions
    ("dashboard.view_jobrun"), content types and migration history of existing databases keep
    their names, so moving the code moved no data.
    """

    name = "core"
    label = "dashboard"
    verbose_name = "Core"

    def ready(self) -> None:
        from axes.signals import user_locked_out

        import core.tokens  # noqa: F401  (registers the token scheme in the OpenAPI schema)
        from core.authcache import connect_signals
        from core.roles import sync_roles
        from core.signin import record_lockout

        post_migrate.connect(sync_roles, dispatch_uid="dashboard.sync_roles")
        user_locked_out.connect(record_lockout, dispatch_uid="dashboard.record_lockout")
        connect_signals()
