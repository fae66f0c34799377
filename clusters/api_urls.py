from django.urls import path

import core.converters  # noqa: F401  (registers the "id" path converter)
from clusters import api

urlpatterns = [
    path("clusters/", api.ClusterListView.as_view(), name="api-clusters"),
    path("clusters/<id:pk>/", api.ClusterDetailView.as_view(), name="api-cluster"),
    path("clusters/<id:pk>/test/", api.ClusterTestView.as_view(), name="api-cluster-test"),
]
