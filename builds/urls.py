from django.urls import path

from builds import views

app_name = "builds"
urlpatterns = [
    path("applications/", views.application_list, name="applications"),
    path("applications/<str:name>/", views.application_detail, name="application"),
    path("applications/<str:name>/edit/", views.application_edit, name="application_edit"),
    path("builds/", views.build_list, name="builds"),
    path("builds/<int:pk>/", views.build_detail, name="build"),
    path("builds/<int:pk>/log/", views.build_log, name="build_log"),
    path("builds/<int:pk>/<str:action>/", views.build_action, name="build_action"),
    path("images/", views.image_list, name="images"),
    path("images/<int:pk>/", views.image_detail, name="image"),
]
