from django.urls import path

from models_registry import views

app_name = "models_registry"
urlpatterns = [
    path("", views.model_list, name="list"),
    path("sync/", views.sync_now, name="sync"),
    path("<str:name>/", views.model_detail, name="model"),
    path("<str:name>/compare/", views.compare, name="compare"),
    path("<str:name>/versions/new/", views.version_create, name="version_create"),
    path("<str:name>/versions/<int:number>/", views.version_detail, name="version"),
    path("<str:name>/versions/<int:number>/download/", views.version_download, name="download"),
]
