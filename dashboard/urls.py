from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

import dashboard.converters  # noqa: F401  (registers the "id" path converter)
from dashboard import api_views, health, signin, token_views, views

api_v1 = [
    path("auth/token/", token_views.TokenView.as_view(), name="api-token"),
    path("auth/tokens/", token_views.TokenListView.as_view(), name="api-tokens"),
    path("auth/tokens/<id:pk>/", token_views.TokenRevokeView.as_view(), name="api-token-revoke"),
    path("audit/", api_views.AuditListView.as_view(), name="api-audit"),
    path("jobs/", api_views.JobRunListView.as_view(), name="api-jobs"),
    path("jobs/<id:pk>/", api_views.JobRunDetailView.as_view(), name="api-job"),
    path("", include("models_registry.api_urls")),
    path("", include("builds.api_urls")),
    path("", include("releases.api_urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", signin.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("audit/", views.audit_log, name="audit"),
    path("jobs/", views.job_list, name="jobs"),
    path("tokens/", token_views.token_page, name="tokens"),
    path("tokens/<id:pk>/revoke/", token_views.token_revoke, name="token-revoke"),
    path("jobs/<id:pk>/", views.job_detail, name="job"),
    path("models/", include("models_registry.urls")),
    path("", include("builds.urls")),
    path("", include("releases.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script, as CSP wants.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

handler400 = "dashboard.errors_views.bad_request"
handler403 = "dashboard.errors_views.permission_denied"
handler404 = "dashboard.errors_views.not_found"
handler500 = "dashboard.errors_views.server_error"
