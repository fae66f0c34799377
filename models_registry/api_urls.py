from django.urls import path

import dashboard.converters  # noqa: F401  (registers the "id" path converter)
from models_registry import api

urlpatterns = [
    path("models/", api.ModelListView.as_view(), name="api-models"),
    path("models/sync/", api.SyncView.as_view(), name="api-models-sync"),
    path("models/<str:name>/", api.ModelDetailView.as_view(), name="api-model"),
    path("models/<str:name>/versions/", api.VersionListView.as_view(), name="api-versions"),
    path("models/<str:name>/versions/<id:number>/", api.VersionDetailView.as_view(), name="api-version"),
    path(
        "models/<str:name>/versions/<id:number>/download/",
        api.VersionDownloadView.as_view(),
        name="api-version-download",
    ),
]
