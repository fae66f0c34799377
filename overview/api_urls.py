from django.urls import path

import core.converters  # noqa: F401  (registers the "id" path converter)
from overview import api_views, token_views

urlpatterns = [
    path("auth/token/", token_views.TokenView.as_view(), name="api-token"),
    path("auth/tokens/", token_views.TokenListView.as_view(), name="api-tokens"),
    path("auth/tokens/<id:pk>/", token_views.TokenRevokeView.as_view(), name="api-token-revoke"),
    path("overview/", api_views.OverviewView.as_view(), name="api-overview"),
    path("audit/", api_views.AuditListView.as_view(), name="api-audit"),
    path("jobs/", api_views.JobRunListView.as_view(), name="api-jobs"),
    path("jobs/<id:pk>/", api_views.JobRunDetailView.as_view(), name="api-job"),
]
