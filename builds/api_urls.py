from django.urls import path

from builds import api, webhooks

urlpatterns = [
    path("applications/", api.ApplicationListView.as_view(), name="api-applications"),
    path("applications/<str:name>/", api.ApplicationDetailView.as_view(), name="api-application"),
    path("builds/", api.BuildListView.as_view(), name="api-builds"),
    path("builds/<int:pk>/", api.BuildDetailView.as_view(), name="api-build"),
    path("builds/<int:pk>/cancel/", api.BuildCancelView.as_view(), name="api-build-cancel"),
    path("builds/<int:pk>/retry/", api.BuildRetryView.as_view(), name="api-build-retry"),
    path("builds/<int:pk>/log/", api.BuildLogView.as_view(), name="api-build-log"),
    path("images/", api.ImageListView.as_view(), name="api-images"),
    path("images/sync/", api.ImageSyncView.as_view(), name="api-images-sync"),
    path("images/<int:pk>/", api.ImageDetailView.as_view(), name="api-image"),
    path("webhooks/<str:provider>/<str:name>/", webhooks.receive, name="webhook"),
]
