from django.urls import path

import core.converters  # noqa: F401  (registers the "id" path converter)
from notifications import api

urlpatterns = [
    path("notification-channels/", api.ChannelListView.as_view(), name="api-notification-channels"),
    path("notification-channels/<id:pk>/", api.ChannelDetailView.as_view(), name="api-notification-channel"),
    path(
        "notification-channels/<id:pk>/deliveries/",
        api.DeliveryListView.as_view(),
        name="api-notification-deliveries",
    ),
    path("notification-channels/<id:pk>/test/", api.ChannelTestView.as_view(), name="api-notification-test"),
]
