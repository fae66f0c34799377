from django.urls import path

import core.converters  # noqa: F401  (registers the "id" and "name" path converters)
from builds import views

app_name = "builds"
urlpatterns = [
    path("applications/", views.application_list, name="applications"),
    path("applications/<name:name>/", views.application_detail, name="application"),
    path("applications/<name:name>/edit/", views.application_edit, name="application_edit"),
    path(
        "applications/<name:name>/model-versions/",
        views.model_version_suggestions,
        name="model_versions",
    ),
    path("builds/", views.build_list, name="builds"),
    path("builds/<id:pk>/", views.build_detail, name="build"),
    path("builds/<id:pk>/log/", views.build_log, name="build_log"),
    path("builds/<id:pk>/<str:action>/", views.build_action, name="build_action"),
    path("images/", views.image_list, name="images"),
    path("images/<id:pk>/", views.image_detail, name="image"),
]
