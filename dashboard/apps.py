from django.apps import AppConfig
from django.db.models.signals import post_migrate


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        from axes.signals import user_locked_out

        import dashboard.tokens  # noqa: F401  (registers the token scheme in the OpenAPI schema)
        from dashboard.roles import sync_roles
        from dashboard.signin import record_lockout

        post_migrate.connect(sync_roles, dispatch_uid="dashboard.sync_roles")
        user_locked_out.connect(record_lockout, dispatch_uid="dashboard.record_lockout")
