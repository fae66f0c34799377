"""REST API of clusters: /api/v1/clusters/. Everyone with a role may read them (never their
credentials); only admins create, change, test and delete them."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clusters import services
from clusters.models import Cluster
from clusters.serializers import ClusterSerializer, ConnectionTestSerializer
from core.api import HasRolePermission

VIEW_CLUSTERS = "clusters.view_cluster"
CHANGE_CLUSTERS = "clusters.change_cluster"


class ClusterListView(generics.ListCreateAPIView):
    serializer_class = ClusterSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_CLUSTERS, "POST": "clusters.add_cluster"}
    error_statuses = {"POST": (409,)}  # a cluster of that name exists

    def get_queryset(self) -> QuerySet[Cluster]:
        return Cluster.objects.all()

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ClusterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        cluster = services.create_cluster(dict(serializer.validated_data), actor=request.user)
        return Response(ClusterSerializer(cluster).data, status=status.HTTP_201_CREATED)


class ClusterDetailView(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = ClusterSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {
        "GET": VIEW_CLUSTERS,
        "PATCH": CHANGE_CLUSTERS,
        "DELETE": "clusters.delete_cluster",
    }
    error_statuses = {"DELETE": (409,)}  # an environment deploys to it
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Cluster]:
        return Cluster.objects.all()

    def patch(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        cluster = self.get_object()
        serializer = ClusterSerializer(cluster, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        cluster = services.update_cluster(cluster, dict(serializer.validated_data), actor=request.user)
        return Response(ClusterSerializer(cluster).data)

    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.delete_cluster(self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ClusterTestView(APIView):
    """Queue a connection test (202); its result appears on the cluster (``check_*``)."""

    permission_classes = [HasRolePermission]
    required_permissions = {"POST": CHANGE_CLUSTERS}
    error_statuses = {"POST": (404,)}

    @extend_schema(request=ConnectionTestSerializer, responses={202: ClusterSerializer})
    def post(self, request: Request, pk: int) -> Response:
        cluster = services.get_cluster(pk)
        serializer = ConnectionTestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        cluster = services.request_connection_test(
            cluster, serializer.validated_data["namespace"], actor=request.user
        )
        return Response(ClusterSerializer(cluster).data, status=status.HTTP_202_ACCEPTED)
