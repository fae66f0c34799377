"""Every URL of the product: each app's pages and API, plus sign-in, health, admin and the schema."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import health, signin, sso_views
from overview import metrics_views

api_v1 = [
    path("", include("overview.api_urls")),
    path("", include("models_registry.api_urls")),
    path("", include("builds.api_urls")),
    path("", include("clusters.api_urls")),
    path("", include("releases.api_urls")),
    path("", include("notifications.api_urls")),
]

urlpatterns = [
    path("", include("overview.urls")),
    path("login/", signin.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("sso/start/", sso_views.StartView.as_view(), name="oidc-start"),
    path("sso/callback/", sso_views.CallbackView.as_view(), name="oidc-callback"),
    path("models/", include("models_registry.urls")),
    path("clusters/", include("clusters.urls")),
    path("", include("builds.urls")),
    path("", include("releases.urls")),
    path("notifications/", include("notifications.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_views.metrics, name="metrics"),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/login/", signin.admin_login),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script, as CSP wants.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

handler400 = "core.errors_views.bad_request"
handler403 = "core.errors_views.permission_denied"
handler404 = "core.errors_views.not_found"
handler500 = "core.errors_views.server_error"
