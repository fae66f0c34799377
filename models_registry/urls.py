from django.urls import path

import core.converters  # noqa: F401  (registers the "id" and "name" path converters)
from models_registry import views

app_name = "models_registry"
urlpatterns = [
    path("", views.model_list, name="list"),
    path("sync/", views.sync_now, name="sync"),
    path("<name:name>/", views.model_detail, name="model"),
    path("<name:name>/compare/", views.compare, name="compare"),
    path("<name:name>/versions/new/", views.version_create, name="version_create"),
    path("<name:name>/versions/<id:number>/", views.version_detail, name="version"),
    path("<name:name>/versions/<id:number>/download/", views.version_download, name="download"),
]
