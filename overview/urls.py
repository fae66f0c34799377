from django.urls import path

import core.converters  # noqa: F401  (registers the "id" path converter)
from overview import dora_views, history_views, token_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("activity/", views.activity, name="activity"),
    path("applications/<name:name>/timeline/", history_views.timeline, name="timeline"),
    path("environments/diff/", history_views.environment_diff, name="environment-diff"),
    path("metrics/dora/", dora_views.dora_page, name="dora"),
    path("audit/", views.audit_log, name="audit"),
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/<id:pk>/", views.job_detail, name="job"),
    path("tokens/", token_views.token_page, name="tokens"),
    path("tokens/<id:pk>/revoke/", token_views.token_revoke, name="token-revoke"),
]
