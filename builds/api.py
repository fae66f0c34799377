"""REST API of applications, builds and images: /api/v1/applications/, builds/, images/."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builds import jobs, services
from builds.models import Application, Build, Image
from builds.queries import BUILD_FILTERS, IMAGE_FILTERS, builds_queryset, images_queryset
from builds.serializers import (
    ApplicationSerializer,
    BuildCreateSerializer,
    BuildLogSerializer,
    BuildSerializer,
    ImageSerializer,
)
from core import jobrunner, listing
from core.api import HasRolePermission, Pagination, query_id, query_int, query_text
from core.errors import NotFoundError
from core.serializers import JobRunSerializer
from models_registry.models import ModelVersion

VIEW_APPS = "builds.view_application"
VIEW_BUILDS = "builds.view_build"
VIEW_IMAGES = "builds.view_image"
MAX_LOG_OFFSET = Pagination.max_offset


class ApplicationListView(generics.ListCreateAPIView):
    serializer_class = ApplicationSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_APPS, "POST": "builds.add_application"}
    error_statuses = {"POST": (409,)}
    queryset = Application.objects.select_related("model").order_by("name")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        application = services.create_application(dict(serializer.validated_data), actor=request.user)
        return Response(self.get_serializer(application).data, status=status.HTTP_201_CREATED)


class ApplicationDetailView(generics.RetrieveUpdateAPIView):
    serializer_class = ApplicationSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {
        "GET": VIEW_APPS,
        "PATCH": "builds.change_application",
        "PUT": "builds.change_application",
    }
    queryset = Application.objects.select_related("model")
    lookup_field = "name"

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        application = self.get_object()
        serializer = self.get_serializer(application, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        application = services.update_application(
            application, dict(serializer.validated_data), actor=request.user
        )
        return Response(self.get_serializer(application).data)


@extend_schema_view(
    get=extend_schema(
        parameters=[
            *listing.parameters(BUILD_FILTERS),
        ]
    )
)
class BuildListView(generics.ListCreateAPIView):
    """List builds, or request one (``POST``).

    A request is recorded and answered at once (202): the build job resolves the commit, and a
    bad commit or an unreachable repository becomes the build's ``failure_reason``. The same
    inputs return the existing build (200); one that resolves to a commit already built with its
    model version ends ``cancelled`` with ``duplicate_of`` naming that build.
    """

    serializer_class = BuildSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_BUILDS, "POST": "builds.trigger_build"}
    error_statuses = {"POST": (404, 409)}  # the application or model version named; what can be built

    def get_queryset(self) -> QuerySet[Build]:
        return listing.apply(builds_queryset(), BUILD_FILTERS, self.request.query_params)

    @extend_schema(request=BuildCreateSerializer, responses={202: BuildSerializer, 200: BuildSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = BuildCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        application = Application.objects.select_related("model").filter(name=data["application"]).first()
        if application is None:
            raise NotFoundError(f"No application named {data['application']!r}.")
        version = None
        if data.get("model_version"):
            version = ModelVersion.objects.filter(
                model=application.model, version=data["model_version"]
            ).first()
            if version is None:
                raise NotFoundError(f"{application.model.name} has no version {data['model_version']}.")
        build, created = services.request_build(
            application, commit=data.get("commit") or None, model_version=version, actor=request.user
        )
        body = BuildSerializer(builds_queryset().get(pk=build.pk)).data
        if not created:
            return Response(body, status=status.HTTP_200_OK)
        location = reverse("api-build", args=[build.pk])
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class BuildDetailView(generics.RetrieveAPIView):
    serializer_class = BuildSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_BUILDS}

    def get_queryset(self) -> QuerySet[Build]:
        return builds_queryset()


class BuildActionView(APIView):
    permission_classes = [HasRolePermission]
    error_statuses = {"POST": (409,)}
    action = ""

    @extend_schema(request=None, responses=BuildSerializer)
    def post(self, request: Request, pk: int) -> Response:
        build = services.get_build(pk)
        if self.action == "cancel":
            services.cancel_build(build, actor=request.user)
        else:
            services.retry_build(build, actor=request.user)
        return Response(BuildSerializer(builds_queryset().get(pk=pk)).data)


class BuildCancelView(BuildActionView):
    required_permissions = {"POST": "builds.cancel_build"}
    action = "cancel"


class BuildRetryView(BuildActionView):
    required_permissions = {"POST": "builds.trigger_build"}
    action = "retry"


class BuildLogView(APIView):
    """The build's log from ``offset`` on; poll with ``next_offset`` to follow a running build."""

    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_BUILDS}

    @extend_schema(
        parameters=[OpenApiParameter("offset", {"type": "integer", "minimum": 0, "maximum": MAX_LOG_OFFSET})],
        responses=BuildLogSerializer,
    )
    def get(self, request: Request, pk: int) -> Response:
        build = get_object_or_404(Build.objects.only("log", "state"), pk=pk)
        offset = query_int(request.query_params, "offset", default=0, low=0, high=MAX_LOG_OFFSET)
        text = build.log[offset:]
        return Response(
            {"offset": offset, "next_offset": offset + len(text), "text": text, "state": build.state}
        )


@extend_schema(
    parameters=[
        *listing.parameters(IMAGE_FILTERS),
        OpenApiParameter("model_version", int),
        OpenApiParameter("digest", str),
    ]
)
class ImageListView(generics.ListAPIView):
    serializer_class = ImageSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_IMAGES}

    def get_queryset(self) -> QuerySet[Image]:
        params = self.request.query_params
        queryset = listing.apply(images_queryset(), IMAGE_FILTERS, params)
        if params.get("model_version"):
            queryset = queryset.filter(model_version__version=query_id(params, "model_version"))
        if digest := query_text(params, "digest"):
            queryset = queryset.filter(digest=digest)
        return queryset


class ImageDetailView(generics.RetrieveAPIView):
    serializer_class = ImageSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_IMAGES}
    queryset = images_queryset()


class ImageSyncView(APIView):
    """Start a tag sync of the applications' image repositories now."""

    permission_classes = [HasRolePermission]
    required_permissions = {"POST": "builds.sync_images"}
    error_statuses = {"POST": (409,)}

    @extend_schema(request=None, responses={202: JobRunSerializer})
    def post(self, request: Request) -> Response:
        run = jobrunner.start_for(request.user, jobs.sync_image_tags)
        if run is None:
            return Response(
                {"detail": "A tag sync is already queued or running."}, status=status.HTTP_409_CONFLICT
            )
        return Response(JobRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
