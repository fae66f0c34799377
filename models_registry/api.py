"""REST API of the model registry: /api/v1/models/..."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import jobrunner, listing
from core.api import HasRolePermission
from core.errors import ConflictError, ServiceError
from core.parsers import FormParser, MultiPartParser
from core.safejson import SafeJSONParser
from core.serializers import JobRunSerializer
from models_registry import jobs, services
from models_registry.downloads import download_response
from models_registry.models import ModelVersion, RegisteredModel
from models_registry.queries import MODEL_FILTERS, get_version, models_with_counts
from models_registry.serializers import (
    ModelUpdateSerializer,
    ModelVersionSerializer,
    RegisteredModelSerializer,
    StatusChangeSerializer,
    VersionCreateSerializer,
)
from models_registry.uploads import received_sha256

VIEW_MODELS = "models_registry.view_registeredmodel"
VIEW_VERSIONS = "models_registry.view_modelversion"


@extend_schema_view(get=extend_schema(parameters=listing.parameters(MODEL_FILTERS)))
class ModelListView(generics.ListCreateAPIView):
    serializer_class = RegisteredModelSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_MODELS, "POST": "models_registry.add_registeredmodel"}
    error_statuses = {"POST": (409,)}

    def get_queryset(self) -> QuerySet[RegisteredModel]:
        return listing.apply(models_with_counts(), MODEL_FILTERS, self.request.query_params)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        model = services.create_model(
            serializer.validated_data["name"],
            description=serializer.validated_data.get("description", ""),
            actor=request.user,
        )
        body = RegisteredModelSerializer(models_with_counts().get(pk=model.pk)).data
        return Response(body, status=status.HTTP_201_CREATED)


class ModelDetailView(APIView):
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_MODELS, "PATCH": "models_registry.change_registeredmodel"}

    @extend_schema(responses=RegisteredModelSerializer)
    def get(self, request: Request, name: str) -> Response:
        return Response(RegisteredModelSerializer(get_object_or_404(models_with_counts(), name=name)).data)

    @extend_schema(request=ModelUpdateSerializer, responses=RegisteredModelSerializer)
    def patch(self, request: Request, name: str) -> Response:
        model = get_object_or_404(RegisteredModel, name=name)
        serializer = ModelUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.update_model(model, description=serializer.validated_data["description"], actor=request.user)
        return Response(RegisteredModelSerializer(models_with_counts().get(pk=model.pk)).data)


class VersionListView(generics.ListCreateAPIView):
    """List a model's versions, or register one by upload (multipart ``file``) or store ``key``.

    An upload is hashed while it streams in and stored at once: 201 with the new version, or
    200 with the existing one when this content is already a version of the model. A store
    ``key`` is not read in the request: 202 with a *pending* version (``state``) that a worker
    hashes and pins; poll its ``url`` until ``state`` is ``ready`` or ``failed`` (with
    ``state_reason``). Naming a key that already waits as a pending version answers that one.
    """

    serializer_class = ModelVersionSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_VERSIONS, "POST": "models_registry.add_modelversion"}
    error_statuses = {"POST": (503,)}
    parser_classes = [MultiPartParser, FormParser, SafeJSONParser]

    def get_model(self) -> RegisteredModel:
        return get_object_or_404(RegisteredModel, name=self.kwargs["name"])

    def get_queryset(self) -> QuerySet[ModelVersion]:
        return self.get_model().versions.select_related("model", "created_by").order_by("-version")

    @extend_schema(
        request={"multipart/form-data": VersionCreateSerializer, "application/json": VersionCreateSerializer},
        responses={
            201: OpenApiResponse(ModelVersionSerializer, description="Upload registered as a new version."),
            200: OpenApiResponse(ModelVersionSerializer, description="This content already is a version."),
            202: OpenApiResponse(
                ModelVersionSerializer,
                description="Store key accepted: the version is pending until a worker has hashed and "
                "pinned the object; then its state becomes ready, or failed with state_reason.",
            ),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        model = self.get_model()
        serializer = VersionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        info = services.VersionInfo(
            # (a body that is not an object was refused by the serializer already)
            metrics=services.clean_metrics(
                request.data.get("metrics") if isinstance(request.data, Mapping) else None
            ),
            framework=data["framework"],
            description=data["description"],
        )
        if data.get("file") is not None:
            upload = data["file"]
            expected = data.get("sha256")
            received = received_sha256(upload)
            if expected and received and expected != received:
                raise ServiceError(f"The upload's sha256 {received} does not match {expected}.")
            info = services.VersionInfo(info.metrics, info.framework, info.description, upload.name)
            version, created = services.register_uploaded_version(model, upload, info, actor=request.user)
        else:
            version, _ = services.request_referenced_version(model, data["key"], info, actor=request.user)
            body = ModelVersionSerializer(version, context={"request": request}).data
            return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})
        body = ModelVersionSerializer(version, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class VersionDetailView(APIView):
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_VERSIONS, "PATCH": "models_registry.change_modelversion_status"}
    error_statuses = {"PATCH": (409,)}

    @extend_schema(responses=ModelVersionSerializer)
    def get(self, request: Request, name: str, number: int) -> Response:
        return Response(ModelVersionSerializer(get_version(name, number), context={"request": request}).data)

    @extend_schema(request=StatusChangeSerializer, responses=ModelVersionSerializer)
    def patch(self, request: Request, name: str, number: int) -> Response:
        serializer = StatusChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.change_status(
            get_version(name, number),
            serializer.validated_data["status"],
            reason=serializer.validated_data["status_reason"],
            actor=request.user,
        )
        return Response(ModelVersionSerializer(version, context={"request": request}).data)


class VersionDownloadView(APIView):
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_VERSIONS}
    error_statuses = {"GET": (409, 503)}

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request: Request, name: str, number: int) -> StreamingHttpResponse:
        return download_response(get_version(name, number))


class SyncView(APIView):
    """Start a sync of the model store now (it also runs periodically)."""

    permission_classes = [HasRolePermission]
    required_permissions = {"POST": "models_registry.sync_model_store"}
    error_statuses = {"POST": (409,)}

    @extend_schema(request=None, responses={202: JobRunSerializer})
    def post(self, request: Request) -> Response:
        run = jobrunner.start_for(request.user, jobs.sync_model_store)
        if run is None:
            raise ConflictError("A sync of the model store is already queued or running.")
        return Response(JobRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
