"""REST API of notification channels: /api/v1/notification-channels/ and their deliveries.

Release managers and admins manage channels; everyone with a role may read them (the URL only
as ``endpoint``, never the secret) and their delivery logs. A secret appears once, in the
answer of the request that set it (``secret``; null in every other answer).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import HasRolePermission
from notifications import queries, services
from notifications.models import Delivery, NotificationChannel
from notifications.serializers import ChannelSerializer, DeliverySerializer, IssuedChannelSerializer

VIEW_CHANNELS = "notifications.view_notificationchannel"
CHANGE_CHANNELS = "notifications.change_notificationchannel"


def issued(channel: NotificationChannel, secret: str | None) -> dict[str, Any]:
    channel.revealed_secret = secret  # type: ignore[attr-defined]
    return dict(IssuedChannelSerializer(channel).data)


class ChannelListView(generics.ListCreateAPIView):
    serializer_class = ChannelSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_CHANNELS, "POST": "notifications.add_notificationchannel"}
    error_statuses = {"POST": (409,)}  # a channel of that name exists

    def get_queryset(self) -> QuerySet[NotificationChannel]:
        return queries.channels()

    @extend_schema(request=ChannelSerializer, responses={201: IssuedChannelSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ChannelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        channel, secret = services.create_channel(dict(serializer.validated_data), actor=request.user)
        return Response(issued(channel, secret), status=status.HTTP_201_CREATED)


class ChannelDetailView(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = ChannelSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {
        "GET": VIEW_CHANNELS,
        "PATCH": CHANGE_CHANNELS,
        "DELETE": "notifications.delete_notificationchannel",
    }
    error_statuses = {"PATCH": (409,)}  # another channel has that name
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[NotificationChannel]:
        return queries.channels()

    @extend_schema(request=ChannelSerializer, responses=IssuedChannelSerializer)
    def patch(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        channel = self.get_object()
        serializer = ChannelSerializer(channel, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        channel, secret = services.update_channel(
            channel, dict(serializer.validated_data), actor=request.user
        )
        return Response(issued(services.get_channel(channel.pk), secret))

    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.delete_channel(self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryListView(generics.ListAPIView):
    """A channel's delivery log, newest first: state, attempts, last response code and error."""

    serializer_class = DeliverySerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": "notifications.view_delivery"}

    def get_queryset(self) -> QuerySet[Delivery]:
        return queries.deliveries(services.get_channel(self.kwargs["pk"]))


class ChannelTestView(APIView):
    """Queue a test message to the channel (whatever its events, filters and enabled flag): 202."""

    permission_classes = [HasRolePermission]
    required_permissions = {"POST": CHANGE_CHANNELS}

    @extend_schema(request=None, responses={202: DeliverySerializer})
    def post(self, request: Request, pk: int) -> Response:
        delivery = services.send_test(services.get_channel(pk), actor=request.user)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
