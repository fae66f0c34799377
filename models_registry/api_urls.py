from django.urls import path

import core.converters  # noqa: F401  (registers the "id" and "name" path converters)
from models_registry import api

urlpatterns = [
    path("models/", api.ModelListView.as_view(), name="api-models"),
    path("models/sync/", api.SyncView.as_view(), name="api-models-sync"),
    path("models/<name:name>/", api.ModelDetailView.as_view(), name="api-model"),
    path("models/<name:name>/versions/", api.VersionListView.as_view(), name="api-versions"),
    path("models/<name:name>/versions/<id:number>/", api.VersionDetailView.as_view(), name="api-version"),
    path(
        "models/<name:name>/versions/<id:number>/download/",
        api.VersionDownloadView.as_view(),
        name="api-version-download",
    ),
]
