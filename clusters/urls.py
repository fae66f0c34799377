from django.urls import path

import core.converters  # noqa: F401  (registers the "id" path converter)
from clusters import views

app_name = "clusters"
urlpatterns = [
    path("", views.cluster_list, name="clusters"),
    path("<id:pk>/", views.cluster_detail, name="cluster"),
    path("<id:pk>/test/", views.cluster_test, name="test"),
    path("<id:pk>/delete/", views.cluster_delete, name="delete"),
]
