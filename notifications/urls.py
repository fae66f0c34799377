from django.urls import path

import core.converters  # noqa: F401  (registers the "id" path converter)
from notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.channel_list, name="channels"),
    path("<id:pk>/", views.channel_detail, name="channel"),
    path("<id:pk>/test/", views.channel_test, name="test"),
    path("<id:pk>/delete/", views.channel_delete, name="delete"),
]
