from django.urls import path

import core.converters  # noqa: F401  (registers the "id" and "name" path converters)
from builds import api, webhooks

urlpatterns = [
    path("applications/", api.ApplicationListView.as_view(), name="api-applications"),
    path("applications/<name:name>/", api.ApplicationDetailView.as_view(), name="api-application"),
    path("builds/", api.BuildListView.as_view(), name="api-builds"),
    path("builds/<id:pk>/", api.BuildDetailView.as_view(), name="api-build"),
    path("builds/<id:pk>/cancel/", api.BuildCancelView.as_view(), name="api-build-cancel"),
    path("builds/<id:pk>/retry/", api.BuildRetryView.as_view(), name="api-build-retry"),
    path("builds/<id:pk>/log/", api.BuildLogView.as_view(), name="api-build-log"),
    path("images/", api.ImageListView.as_view(), name="api-images"),
    path("images/sync/", api.ImageSyncView.as_view(), name="api-images-sync"),
    path("images/<id:pk>/", api.ImageDetailView.as_view(), name="api-image"),
    path("webhooks/<str:provider>/<name:name>/", webhooks.receive, name="webhook"),
]
