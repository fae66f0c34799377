"""REST API of releases: /api/v1/environments/, releases/, schedules/."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builds.models import Build, Image
from core import listing
from core.api import HasRolePermission, query_id, query_text
from core.errors import ForbiddenError, NotFoundError, ServiceError
from core.http import signed_in
from models_registry.queries import get_version
from releases import dora, envdiff, history, services
from releases.diff import release_diff
from releases.models import Environment, FreezeWindow, Release, RunPeriod, Schedule
from releases.queries import RELEASE_FILTERS, environments, releases
from releases.serializers import (
    CandidateSerializer,
    DecisionSerializer,
    DoraSerializer,
    EnvironmentDiffSerializer,
    EnvironmentSerializer,
    FreezeWindowSerializer,
    ReleaseCreateSerializer,
    ReleaseDiffSerializer,
    ReleaseSerializer,
    RollbackSerializer,
    RolloutEventSerializer,
    RunPeriodSerializer,
    ScheduleSerializer,
)

VIEW_ENVIRONMENTS = "releases.view_environment"
VIEW_RELEASES = "releases.view_release"


def _environment_fields(data: dict[str, Any], application: Any) -> dict[str, Any]:
    fields = dict(data)
    previous_name = fields.pop("previous_environment", None)
    if previous_name:
        previous = Environment.objects.filter(application=application, name=previous_name).first()
        if previous is None:
            raise ServiceError(f"{application} has no environment named {previous_name!r}.", field="previous")
        fields["previous"] = previous
    elif previous_name == "":
        fields["previous"] = None
    return fields


@extend_schema_view(get=extend_schema(parameters=[OpenApiParameter("application", str)]))
class EnvironmentListView(generics.ListCreateAPIView):
    serializer_class = EnvironmentSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_ENVIRONMENTS, "POST": "releases.add_environment"}
    error_statuses = {"POST": (409,)}

    def get_queryset(self) -> QuerySet[Environment]:
        application = query_text(self.request.query_params, "application")
        return environments().filter(application__name=application) if application else environments()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = _environment_fields(serializer.validated_data, serializer.validated_data["application"])
        environment = services.create_environment(fields, actor=request.user)
        return Response(self.get_serializer(environment).data, status=status.HTTP_201_CREATED)


PROPOSED = OpenApiResponse(
    EnvironmentSerializer,
    description="saved, but a weakening of the approval rules waits for a second person: see /rule-changes/",
)


@extend_schema_view(
    put=extend_schema(responses={200: EnvironmentSerializer, 202: PROPOSED}),
    patch=extend_schema(responses={200: EnvironmentSerializer, 202: PROPOSED}),
)
class EnvironmentDetailView(generics.RetrieveUpdateAPIView):
    serializer_class = EnvironmentSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {
        "GET": VIEW_ENVIRONMENTS,
        "PATCH": "releases.change_environment",
        "PUT": "releases.change_environment",
    }

    def get_queryset(self) -> QuerySet[Environment]:
        return environments()

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        environment = self.get_object()
        serializer = self.get_serializer(environment, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = {k: v for k, v in serializer.validated_data.items() if k not in ("application", "name")}
        environment, proposed = services.update_environment(
            environment, _environment_fields(data, environment.application), actor=request.user
        )
        body = self.get_serializer(environments().get(pk=environment.pk)).data
        return Response(body, status=status.HTTP_202_ACCEPTED if proposed else status.HTTP_200_OK)


class FreezeWindowListView(APIView):
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_ENVIRONMENTS, "POST": "releases.change_environment"}

    @extend_schema(request=FreezeWindowSerializer, responses={201: FreezeWindowSerializer})
    def post(self, request: Request, pk: int) -> Response:
        environment = get_object_or_404(Environment, pk=pk)
        serializer = FreezeWindowSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        window = services.add_freeze_window(environment, dict(serializer.validated_data), actor=request.user)
        return Response(FreezeWindowSerializer(window).data, status=status.HTTP_201_CREATED)


class FreezeWindowDetailView(APIView):
    permission_classes = [HasRolePermission]
    required_permissions = {"DELETE": "releases.change_environment"}

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int, window_id: int) -> Response:
        window = get_object_or_404(FreezeWindow, pk=window_id, environment_id=pk)
        services.delete_freeze_window(window, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=extend_schema(
        parameters=[
            *listing.parameters(RELEASE_FILTERS),
            OpenApiParameter("environment", int),
        ]
    )
)
class ReleaseListView(generics.ListCreateAPIView):
    """List releases, or request one for an environment from a succeeded build or an image."""

    serializer_class = ReleaseSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_RELEASES, "POST": "releases.add_release"}
    error_statuses = {"POST": (404, 409)}  # the environment, build or image named; the candidate's state

    def get_queryset(self) -> QuerySet[Release]:
        params, queryset = self.request.query_params, releases()
        if params.get("environment"):
            queryset = queryset.filter(environment_id=query_id(params, "environment"))
        return listing.apply(queryset, RELEASE_FILTERS, params)

    @extend_schema(request=ReleaseCreateSerializer, responses={201: ReleaseSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ReleaseCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        environment = Environment.objects.filter(pk=data["environment"]).select_related("application").first()
        if environment is None:
            raise NotFoundError(f"No environment #{data['environment']}.")
        build, image = build_or_image(data)
        if data.get("scheduled_for") and not request.user.has_perm("releases.schedule_release"):
            raise ForbiddenError("Your role does not allow scheduling releases.", field="scheduled_for")
        release = services.request_release(
            environment,
            build=build,
            image=image,
            actor=request.user,
            scheduled_for=data.get("scheduled_for"),
            note=data["note"],
        )
        return Response(ReleaseSerializer(releases().get(pk=release.pk)).data, status=status.HTTP_201_CREATED)


def build_or_image(data: dict[str, Any]) -> tuple[Build | None, Image | None]:
    """The candidate named by ``build`` or ``image`` ids; a 404 for an unknown one."""
    if data.get("build"):
        build = Build.objects.select_related("image").filter(pk=data["build"]).first()
        if build is None:
            raise NotFoundError(f"No build #{data['build']}.")
        return build, None
    image = Image.objects.filter(pk=data["image"]).first()
    if image is None:
        raise NotFoundError(f"No image #{data['image']}.")
    return None, image


class ReleaseDetailView(generics.RetrieveAPIView):
    serializer_class = ReleaseSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_RELEASES}

    def get_queryset(self) -> QuerySet[Release]:
        return releases()


class ReleaseActionView(APIView):
    permission_classes = [HasRolePermission]
    serializer_class: type[serializers.Serializer[Any]] = DecisionSerializer
    error_statuses: dict[str, tuple[int, ...]] = {"POST": (409,)}

    def act(self, request: Request, release: Release, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    @extend_schema(responses=ReleaseSerializer)
    def post(self, request: Request, pk: int) -> Response:
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        release = self.act(request, services.get_release(pk), serializer.validated_data)
        return Response(ReleaseSerializer(releases().get(pk=release.pk)).data)


class ApproveView(ReleaseActionView):
    required_permissions = {"POST": "releases.approve_release"}

    @extend_schema(request=DecisionSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, request: Request, release: Release, data: dict[str, Any]) -> Release:
        return services.approve(release, actor=request.user, comment=data["comment"])


class RejectView(ReleaseActionView):
    required_permissions = {"POST": "releases.approve_release"}

    @extend_schema(request=DecisionSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, request: Request, release: Release, data: dict[str, Any]) -> Release:
        return services.reject(release, actor=request.user, comment=data["comment"])


class CancelView(ReleaseActionView):
    required_permissions = {"POST": "releases.add_release"}

    @extend_schema(request=DecisionSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, request: Request, release: Release, data: dict[str, Any]) -> Release:
        return services.cancel(release, actor=request.user, reason=data["comment"])


class CandidateView(ReleaseActionView):
    """Point a waiting release at another build or image; its approvals lapse."""

    required_permissions = {"POST": "releases.add_release"}
    serializer_class = CandidateSerializer
    error_statuses = {"POST": (404, 409)}  # the build or image named; the release's or candidate's state

    @extend_schema(request=CandidateSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, request: Request, release: Release, data: dict[str, Any]) -> Release:
        build, image = build_or_image(data)
        return services.change_candidate(release, build=build, image=image, actor=request.user)


class RollbackView(ReleaseActionView):
    """Roll the release's environment back to the release before it (needs no approval)."""

    required_permissions = {"POST": "releases.rollback_release"}
    serializer_class = RollbackSerializer

    @extend_schema(request=RollbackSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, request: Request, release: Release, data: dict[str, Any]) -> Release:
        environment = release.environment
        if environment.current_release_id != release.pk:
            raise ServiceError(
                f"Release #{release.pk} is not what runs in {environment}; roll back the current one."
            )
        return services.rollback(environment, actor=request.user, reason=data["reason"])


class ReleaseEventsView(APIView):
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_RELEASES}

    @extend_schema(responses=RolloutEventSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        release = services.get_release(pk)
        return Response(RolloutEventSerializer(release.events.all(), many=True).data)


class ReleaseDiffView(APIView):
    """What changes against what runs now: commits, model version with metric deltas, digests."""

    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_RELEASES}

    @extend_schema(responses=ReleaseDiffSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(release_diff(services.get_release(pk)))


class ScheduleListView(generics.ListCreateAPIView):
    serializer_class = ScheduleSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_RELEASES, "POST": "releases.schedule_release"}
    queryset = Schedule.objects.select_related("environment__application", "owner")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        schedule = services.save_schedule(
            Schedule(owner=signed_in(request.user)), dict(serializer.validated_data), actor=request.user
        )
        return Response(self.get_serializer(schedule).data, status=status.HTTP_201_CREATED)


class ScheduleDetailView(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = ScheduleSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {
        "GET": VIEW_RELEASES,
        "PATCH": "releases.schedule_release",
        "PUT": "releases.schedule_release",
        "DELETE": "releases.schedule_release",
    }
    queryset = Schedule.objects.select_related("environment__application", "owner")

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        schedule = self.get_object()
        serializer = self.get_serializer(schedule, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        schedule = services.save_schedule(schedule, dict(serializer.validated_data), actor=request.user)
        return Response(self.get_serializer(schedule).data)

    def perform_destroy(self, instance: Schedule) -> None:
        services.delete_schedule(instance, actor=self.request.user)


AT = OpenApiParameter(
    "at", str, description="ISO 8601 instant (UTC when it has no offset); without it, the whole timeline"
)


@extend_schema(parameters=[AT], responses=RunPeriodSerializer(many=True))
class EnvironmentHistoryView(generics.ListAPIView):
    """What ran in an environment: at one instant (``?at=``: a list of one, or none when nothing
    had run there yet), or every release that ran there, newest first."""

    serializer_class = RunPeriodSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_ENVIRONMENTS}

    def get_queryset(self) -> QuerySet[RunPeriod]:
        environment = get_object_or_404(Environment, pk=self.kwargs["pk"])
        at = history.instant_param(self.request.query_params, "at")
        if at is None:
            return history.timeline(environment)
        period = history.running_at(environment, at)
        return history.periods().filter(pk=period.pk) if period else RunPeriod.objects.none()


class VersionDeploymentsView(generics.ListAPIView):
    """Where and when a model version ran: one entry per environment and period, newest first."""

    serializer_class = RunPeriodSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_RELEASES}

    def get_queryset(self) -> QuerySet[RunPeriod]:
        return history.deployments_of(get_version(self.kwargs["name"], self.kwargs["number"]))


DIFF_PARAMETERS = [
    OpenApiParameter(
        "from", int, required=True, description="environment id: what runs there now (or at from_at)"
    ),
    OpenApiParameter("to", int, description="environment id (default: the same as from)"),
    OpenApiParameter("from_at", str, description="ISO 8601 instant for the from side"),
    OpenApiParameter("to_at", str, description="ISO 8601 instant for the to side"),
]


@extend_schema(parameters=DIFF_PARAMETERS, responses=EnvironmentDiffSerializer)
class EnvironmentDiffView(APIView):
    """Two environments side by side, or one at two instants: the commits, the model version with
    every metric's delta, both digests, and the releases in between. Environments of different
    applications may be compared; the answer says so."""

    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_ENVIRONMENTS}
    error_statuses = {"GET": (404,)}

    def get(self, request: Request) -> Response:
        params = request.query_params
        old_env = _environment(query_id(params, "from"))
        new_env = _environment(query_id(params, "to")) if params.get("to") else old_env
        old_at, new_at = history.instant_param(params, "from_at"), history.instant_param(params, "to_at")
        result = envdiff.compare(envdiff.side(old_env, old_at), envdiff.side(new_env, new_at))
        return Response(EnvironmentDiffSerializer(result).data)


def _environment(pk: int) -> Environment:
    environment = Environment.objects.select_related("application").filter(pk=pk).first()
    if environment is None:
        raise NotFoundError(f"No environment #{pk}.")
    return environment


@extend_schema(
    parameters=[
        OpenApiParameter("application", str, required=True, description="application name"),
        OpenApiParameter(
            "environment", str, description="environment name (default: each of the application's)"
        ),
        OpenApiParameter("days", int, description=f"period in days, 1-{dora.MAX_DAYS} (default 30)"),
    ],
    responses=DoraSerializer(many=True),
)
class DoraView(APIView):
    """DORA figures per environment of an application over the last ``days``, each with its
    numerator and denominator and a daily series (definitions in docs/releases.md)."""

    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW_RELEASES}
    error_statuses = {"GET": (404,)}

    def get(self, request: Request) -> Response:
        params = request.query_params
        environments, days = dora.select(
            query_text(params, "application"), query_text(params, "environment"), params.get("days")
        )
        figures = [dora.compute(environment, days=days) for environment in environments]
        return Response(DoraSerializer(figures, many=True).data)
